"""Per-user pins on the Resources page."""

from __future__ import annotations

from django.db import transaction

from apps.access import selectors as access
from apps.accounts.models import User
from apps.resources.errors import AppNotFound
from apps.resources.models_user import AppUserState
from apps.resources.queries import app_get

__all__ = ["app_pin_set"]


def app_pin_set(*, actor: User, app_name: str, pinned: bool) -> bool:
    """Pin or unpin an app on the actor's Resources page; returns the new state.

    Only apps the actor may access can be pinned; anything else raises `AppNotFound`, worded
    the same for missing and hidden apps.
    """
    app = app_get(app_name)
    if app is None or not access.allowed_aws_roles(actor, app):
        raise AppNotFound(str(app_name)[:255])
    with transaction.atomic():
        state, created = AppUserState.objects.select_for_update().get_or_create(
            user=actor, app_name=app.name, defaults={"pinned": pinned}
        )
        if not created and state.pinned != pinned:
            state.pinned = pinned
            state.save(update_fields=["pinned"])
    return pinned
