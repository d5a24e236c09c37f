"""Celery adapters for the profile sync: the beat fan-out and one task per integration."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from apps.core.logcontext import bind_log_fields
from apps.core.metrics import observe_sync
from apps.core.registry import ResourceError
from apps.integrations import jobs, selectors
from apps.integrations.errors import SyncDisabled
from apps.integrations.models import Integration, SyncRun
from apps.integrations.services.sync import integration_sync

log = logging.getLogger(__name__)

MAX_RETRIES = 2


def _time_limit() -> int:
    return int(settings.ROLEGATE_PROFILE_SYNC_TIME_LIMIT)


@shared_task(name=jobs.SYNC_ALL_INTEGRATIONS, ignore_result=True)
def sync_all_integrations() -> int:
    """Queue one sync task per enabled integration, so accounts sync in parallel."""
    interval = int(settings.ROLEGATE_PROFILE_SYNC_INTERVAL)
    ids = selectors.sync_enabled_integration_ids()
    for integration_id in ids:
        # A task still queued when the next tick comes is useless: that tick queues a fresh one.
        sync_integration.apply_async(
            args=(integration_id, str(SyncRun.Trigger.SCHEDULE)), expires=max(interval - 10, 1)
        )
    return len(ids)


@shared_task(
    bind=True,
    name=jobs.SYNC_INTEGRATION,
    max_retries=MAX_RETRIES,
    soft_time_limit=max(_time_limit() - 30, 30),
    time_limit=_time_limit(),
)
def sync_integration(self: Any, integration_id: int, trigger: str = "schedule") -> dict[str, Any]:
    """Sync one integration; retry (with jittered backoff) only after a transient AWS error."""
    name = Integration.objects.filter(pk=integration_id).values_list("name", flat=True).first()
    if name is None:
        return {"integration_id": integration_id, "status": "GONE"}
    countdown = min(30 * 2**self.request.retries, 120) * (0.5 + random.random())
    bind_log_fields(integration=name)
    started = time.perf_counter()
    try:
        outcome = integration_sync(name=name, trigger=trigger)
    except (ResourceError, SyncDisabled) as error:  # deleted or disabled since it was queued
        log.info("sync of integration %s not run: %s", name, error)
        observe_sync("NOT_RUN", time.perf_counter() - started)
        return {"integration": name, "status": "NOT_RUN", "error_message": str(error)}
    except (OperationalError, InterfaceError) as error:
        # The database went away (the run was recorded ERROR on a fresh connection, if it
        # came back): transient, like a throttled AWS call.
        observe_sync("ERROR", time.perf_counter() - started)
        if self.request.retries >= MAX_RETRIES:
            raise
        log.warning("sync of integration %s lost its database (%s); retrying", name, error)
        raise self.retry(
            args=(integration_id, str(SyncRun.Trigger.RETRY)), countdown=countdown
        ) from error
    observe_sync(str(outcome.as_dict().get("status", "UNKNOWN")), time.perf_counter() - started)
    if outcome.transient and self.request.retries < MAX_RETRIES:
        raise self.retry(args=(integration_id, str(SyncRun.Trigger.RETRY)), countdown=countdown)
    return outcome.as_dict()


# -- live-session revocation (issue 18) ---------------------------------------------------------

REVOCATION_MAX_RETRIES = 5


@shared_task(
    bind=True,
    name=jobs.PUSH_SESSION_REVOCATIONS,
    max_retries=REVOCATION_MAX_RETRIES,
    soft_time_limit=120,
    time_limit=150,
)
def push_session_revocations(self: Any, integration_id: int, reason: str = "") -> dict[str, Any]:
    """Push the revocation policy of one integration; retry with backoff while AWS fails."""
    from apps.integrations.revocation.services import revocation_push

    outcome = revocation_push(
        integration_id=integration_id, reason=reason, attempt=self.request.retries + 1
    )
    if outcome is None:
        return {"integration_id": integration_id, "status": "GONE"}
    if outcome.transient and self.request.retries < REVOCATION_MAX_RETRIES:
        # Seconds, not minutes: a revocation that waits is a session that keeps working.
        countdown = min(2 * 2**self.request.retries, 60) * (0.5 + random.random())
        raise self.retry(args=(integration_id, reason), countdown=countdown)
    return outcome.as_dict()


@shared_task(name=jobs.RECONCILE_SESSION_REVOCATIONS, ignore_result=True)
def reconcile_session_revocations() -> int:
    """Beat: re-push every integration with revocation entries (prunes old ones; idempotent)."""
    from apps.integrations.models_revocation import RevokedSession

    ids = sorted(set(RevokedSession.objects.values_list("integration_id", flat=True)))
    for integration_id in ids:
        push_session_revocations.apply_async(args=(integration_id, "reconcile"), expires=290)
    return len(ids)


# -- the CRL (issue 18 item 7) ------------------------------------------------------------------


@shared_task(bind=True, name=jobs.PUSH_INTEGRATION_CRL, max_retries=3)
def push_integration_crl(self: Any, integration_id: int) -> str:
    """Upload the current CRL to one trust anchor now; retry while AWS fails transiently."""
    from apps.integrations.services.crl import integration_crl_push

    outcome, transient = integration_crl_push(integration_id=integration_id)
    if transient and self.request.retries < 3:
        raise self.retry(countdown=min(5 * 2**self.request.retries, 60) * (0.5 + random.random()))
    return outcome


@shared_task(name=jobs.REFRESH_CRL, ignore_result=True)
def refresh_crl() -> bool:
    """Beat: re-sign CRLs past half their lifetime; a re-signed list is pushed at once."""
    from apps.authority.services import crl_refresh

    return crl_refresh(actor=None)
