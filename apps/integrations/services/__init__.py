"""Writes on integrations, split by topic: CRUD (``crud``) and the profile sync (``sync``)."""

from __future__ import annotations

from apps.integrations.services.crud import (
    SyncQueued,
    integration_apply,
    integration_delete,
    integration_sync_request,
)
from apps.integrations.services.listing import (
    MAX_ERROR_MESSAGE_BYTES,
    ListedProfile,
    Listing,
    cap_error_message,
    fetch_listing,
)
from apps.integrations.services.lock import lock_stale_after, sync_lock
from apps.integrations.services.sync import SyncOutcome, integration_sync

__all__ = [
    "MAX_ERROR_MESSAGE_BYTES",
    "ListedProfile",
    "Listing",
    "SyncOutcome",
    "SyncQueued",
    "cap_error_message",
    "fetch_listing",
    "integration_apply",
    "integration_delete",
    "integration_sync",
    "integration_sync_request",
    "lock_stale_after",
    "sync_lock",
]
