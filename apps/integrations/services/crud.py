"""Create, replace and delete integrations (audited), and queue syncs."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from django.db import transaction

from apps.audit import events
from apps.audit.services import audit_record
from apps.core.identity import Actor
from apps.core.jobs import task
from apps.core.registry import ResourceError, ResourceExists, ResourceNotFound
from apps.integrations.errors import SyncDisabled
from apps.integrations.jobs import SYNC_INTEGRATION
from apps.integrations.models import Integration, SyncRun
from apps.integrations.spec import (
    IntegrationSpec,
)

log = logging.getLogger(__name__)


# -- integration CRUD ------------------------------------------------------------------------


def _snapshot(integration: Integration | None) -> dict[str, Any] | None:
    if integration is None:
        return None
    return {
        "sub_kind": integration.sub_kind,
        "trust_anchor_arn": integration.trust_anchor_arn,
        "sync_enabled": integration.sync_enabled,
        "sync_profile_arn": integration.sync_profile_arn,
        "sync_role_arn": integration.sync_role_arn,
        "sync_profile_accepts_role_session_name": (
            integration.sync_profile_accepts_role_session_name
        ),
        "profile_name_filters": list(integration.profile_name_filters),
        "session_revocation_enabled": integration.session_revocation_enabled,
    }


def _enqueue_sync(integration_id: int, trigger: str) -> bool:
    """Queue a sync now; return False when the broker did not take it within its timeout
    (the scheduled sync then picks the change up later)."""
    from django.conf import settings

    sync_integration = task(SYNC_INTEGRATION)
    app = sync_integration.app
    timeout = float(settings.ROLEGATE_BROKER_TIMEOUT)
    try:
        # Its own connection with short socket timeouts and a small retry budget: a frozen or
        # refusing broker must answer this web request in seconds, not hold it hostage.
        with app.connection_for_write(
            transport_options={
                **dict(app.conf.broker_transport_options or {}),
                "socket_connect_timeout": timeout,
                "socket_timeout": timeout,
            },
            connect_timeout=timeout,
        ) as connection:
            sync_integration.apply_async(  # type: ignore[call-arg]  # stubs lack `connection`
                args=(integration_id, trigger),
                connection=connection,
                retry=True,
                retry_policy=BROKER_RETRY_POLICY,
            )
    except Exception:  # any broker failure; the beat schedule is the safety net
        log.warning(
            "could not queue a sync of integration %s; the next scheduled run will do it",
            integration_id,
            exc_info=True,
        )
        return False
    return True


# One quick retry: enough for a dropped connection, short enough for a web request.
BROKER_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0,
    "interval_max": 0.2,
}


def integration_apply(
    *, actor: Actor, spec: IntegrationSpec, force: bool = False, request_sync: bool = True
) -> Integration:
    """Create an integration (or with ``force`` replace it), audit it, and queue a sync after
    commit when its sync configuration changed."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().filter(name=spec.name).first()
        if integration is not None and not force:
            raise ResourceExists(
                f"integration {spec.name!r} already exists (use --force to replace it)"
            )
        if integration is not None and integration.sub_kind != spec.sub_kind:
            raise ResourceError(
                f"sub_kind cannot change (is {integration.sub_kind!r}, got {spec.sub_kind!r})",
                field="sub_kind",
            )
        before = _snapshot(integration)
        if integration is None:
            integration = Integration(name=spec.name, sub_kind=spec.sub_kind)
        integration.trust_anchor_arn = spec.trust_anchor_arn
        integration.partition = spec.partition
        integration.region = spec.region
        integration.account_id = spec.account_id
        integration.sync_enabled = spec.sync_enabled
        integration.sync_profile_arn = spec.sync_profile_arn
        integration.sync_role_arn = spec.sync_role_arn
        integration.sync_profile_accepts_role_session_name = (
            spec.sync_profile_accepts_role_session_name
        )
        integration.profile_name_filters = list(spec.profile_name_filters)
        integration.session_revocation_enabled = spec.session_revocation_enabled
        after = _snapshot(integration)
        if before == after:
            return integration
        integration.save()
        audit_record(
            event_type=events.INTEGRATION_CREATED if before is None else events.INTEGRATION_UPDATED,
            actor=actor,
            target_kind="integration",
            target_name=integration.name,
            details={"before": before, "after": after},
        )
        if request_sync and integration.sync_enabled:
            integration_id = integration.pk
            transaction.on_commit(lambda: _enqueue_sync(integration_id, SyncRun.Trigger.CHANGE))
    return integration


def integration_delete(*, actor: Actor, name: str) -> None:
    """Delete an integration with its apps and run history, and audit it."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().filter(name=name).first()
        if integration is None:
            raise ResourceNotFound(f"integration {name!r} not found")
        snapshot = _snapshot(integration)
        app_names = list(integration.apps.order_by("name").values_list("name", flat=True))
        integration.delete()
        audit_record(
            event_type=events.INTEGRATION_DELETED,
            actor=actor,
            target_kind="integration",
            target_name=name,
            details={"before": snapshot, "apps_removed": len(app_names), "apps": app_names[:100]},
        )


class SyncQueued(StrEnum):
    """What became of a "Sync now"."""

    QUEUED = "queued"
    NOT_QUEUED = "not_queued"  # the broker did not take it: the schedule will run it later
    AFTER_COMMIT = "after_commit"  # inside an outer transaction: queued when that commits


def integration_sync_request(*, actor: Actor, name: str, trigger: str = "admin") -> SyncQueued:
    """Queue a sync of one integration after commit (the admin's "Sync now"), audited; say
    honestly whether the broker took it."""
    queued: list[bool] = []
    outer = transaction.get_connection().in_atomic_block
    with transaction.atomic():
        integration = Integration.objects.filter(name=name).first()
        if integration is None:
            raise ResourceNotFound(f"integration {name!r} not found")
        if not integration.sync_enabled:
            raise SyncDisabled(name)
        audit_record(
            event_type=events.INTEGRATION_SYNC_REQUESTED,
            actor=actor,
            target_kind="integration",
            target_name=name,
        )
        integration_id = integration.pk
        transaction.on_commit(lambda: queued.append(_enqueue_sync(integration_id, trigger)))
    if not queued:
        return SyncQueued.AFTER_COMMIT if outer else SyncQueued.NOT_QUEUED
    return SyncQueued.QUEUED if queued[0] else SyncQueued.NOT_QUEUED
