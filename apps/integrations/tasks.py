"""Celery adapters for the profile sync: the beat fan-out and one task per integration."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from celery import shared_task
from django.conf import settings

from apps.core.logcontext import bind_log_fields
from apps.core.metrics import observe_sync
from apps.core.registry import ResourceError
from apps.integrations import selectors, services
from apps.integrations.models import Integration, SyncRun

log = logging.getLogger(__name__)

MAX_RETRIES = 2


def _time_limit() -> int:
    return int(settings.ROLEGATE_PROFILE_SYNC_TIME_LIMIT)


@shared_task(name="apps.integrations.tasks.sync_all_integrations", ignore_result=True)
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
    name="apps.integrations.tasks.sync_integration",
    max_retries=MAX_RETRIES,
    soft_time_limit=max(_time_limit() - 30, 30),
    time_limit=_time_limit(),
)
def sync_integration(self: Any, integration_id: int, trigger: str = "schedule") -> dict[str, Any]:
    """Sync one integration; retry (with jittered backoff) only after a transient AWS error."""
    name = Integration.objects.filter(pk=integration_id).values_list("name", flat=True).first()
    if name is None:
        return {"integration_id": integration_id, "status": "GONE"}
    bind_log_fields(integration=name)
    started = time.perf_counter()
    try:
        outcome = services.integration_sync(name=name, trigger=trigger)
    except ResourceError as error:  # deleted or disabled since it was queued
        log.info("sync of integration %s not run: %s", name, error)
        observe_sync("NOT_RUN", time.perf_counter() - started)
        return {"integration": name, "status": "NOT_RUN", "error_message": str(error)}
    observe_sync(str(outcome.as_dict().get("status", "UNKNOWN")), time.perf_counter() - started)
    if outcome.transient and self.request.retries < MAX_RETRIES:
        countdown = min(30 * 2**self.request.retries, 120) * (0.5 + random.random())
        raise self.retry(args=(integration_id, str(SyncRun.Trigger.RETRY)), countdown=countdown)
    return outcome.as_dict()
