"""Reads on synced AWS apps, including the plain facts the access engine decides on."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from apps.access.engine.decision import AppFacts
from apps.resources.models import AwsApp


def apps_all() -> QuerySet[AwsApp]:
    """Every synced app with its integration, ordered by name."""
    return AwsApp.objects.select_related("integration").order_by("name")


def app_get(name: str) -> AwsApp | None:
    """One app by name (no permission check: use the access layer for user-facing reads)."""
    return AwsApp.objects.select_related("integration").filter(name=name).first()


def app_facts(queryset: QuerySet[AwsApp] | None = None) -> list[AppFacts]:
    """The engine's view of the apps (name, labels, account, profile role ARNs), one query."""
    source = queryset if queryset is not None else AwsApp.objects.all()
    rows = source.order_by("name").values_list("name", "labels", "account_id", "role_arns")
    return [
        AppFacts(
            name=name,
            labels={str(k): str(v) for k, v in (labels or {}).items()},
            account_id=account_id,
            role_arns=frozenset(role_arns or ()),
        )
        for name, labels, account_id, role_arns in rows
    ]


def app_last_confirmed_at(app: AwsApp) -> datetime:
    """When AWS last confirmed the app: the integration's last complete listing, unless the
    app's own refresh failed (then the time its row was last confirmed)."""
    listing_at = app.integration.last_complete_listing_at
    if app.sync_error or listing_at is None:
        return app.last_confirmed_at
    return max(app.last_confirmed_at, listing_at)
