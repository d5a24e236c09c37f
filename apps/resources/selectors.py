"""Reads on synced AWS apps (the engine's facts come from `queries.app_catalog`, the one cache)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from apps.resources.models import AwsApp


def apps_all() -> QuerySet[AwsApp]:
    """Every synced app with its integration, ordered by name."""
    return AwsApp.objects.select_related("integration").order_by("name")


def app_last_confirmed_at(app: AwsApp) -> datetime:
    """When AWS last confirmed the app: the integration's last complete listing, unless the
    app's own refresh failed (then the time its row was last confirmed)."""
    listing_at = app.integration.last_complete_listing_at
    if app.sync_error or listing_at is None:
        return app.last_confirmed_at
    return max(app.last_confirmed_at, listing_at)
