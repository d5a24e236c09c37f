"""The Celery application and the one place where periodic (beat) work is declared."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("rolegate", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _worker_observability(**kwargs: Any) -> None:
    """Task context on every log line; the worker's own /metrics when a token is set."""
    from django.conf import settings

    from apps.core.logcontext import connect_celery_signals
    from apps.core.metrics import serve_worker_metrics

    connect_celery_signals()
    token = str(settings.ROLEGATE_METRICS_TOKEN)
    port = int(settings.ROLEGATE_WORKER_METRICS_PORT)
    if token and port:
        serve_worker_metrics(port, token)


@app.on_after_finalize.connect
def _declare_beat_schedule(sender: Celery, **kwargs: Any) -> None:
    from django.conf import settings

    interval = int(settings.ROLEGATE_PROFILE_SYNC_INTERVAL)
    checkpoint = int(getattr(settings, "ROLEGATE_AUDIT_CHECKPOINT_INTERVAL", 300))
    sender.conf.beat_schedule = beat_schedule(interval, checkpoint_interval=checkpoint)


def beat_schedule(
    sync_interval: int, *, checkpoint_interval: int = 300
) -> dict[str, dict[str, Any]]:
    """Every periodic task; ``expires`` sits just under the period so runs never pile up."""
    return {
        "write-audit-checkpoint": {
            "task": "apps.audit.tasks.write_audit_checkpoint",
            "schedule": float(checkpoint_interval),
            "options": {"expires": max(checkpoint_interval - 5, 1)},
        },
        "purge-expired-cli-logins": {
            "task": "apps.api.tasks.purge_expired_cli_logins",
            "schedule": 3600.0,
            "options": {"expires": 3500},
        },
        "sync-all-integrations": {
            "task": "apps.integrations.tasks.sync_all_integrations",
            "schedule": float(sync_interval),
            "options": {"expires": max(sync_interval - 10, 1)},
        },
        "seal-audit-chain": {
            "task": "apps.audit.tasks.seal_audit_chain",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        "expire-access-grants": {
            "task": "apps.access.tasks.expire_access_requests",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        # Issue 18: prune and re-push session revocations; keep the CRL fresh.
        "reconcile-session-revocations": {
            "task": "apps.integrations.tasks.reconcile_session_revocations",
            "schedule": 300.0,
            "options": {"expires": 290},
        },
        # Issue 25: webhook deliveries the after-commit enqueue missed; CA expiry warnings.
        "deliver-due-webhooks": {
            "task": "apps.webhooks.tasks.deliver_due_webhooks",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        "warn-ca-expiry": {
            "task": "apps.webhooks.tasks.warn_ca_expiry",
            "schedule": 3600.0,
            "options": {"expires": 3540},
        },
        "refresh-crl": {
            "task": "apps.integrations.tasks.refresh_crl",
            "schedule": 3600.0,
            "options": {"expires": 3540},
        },
    }
