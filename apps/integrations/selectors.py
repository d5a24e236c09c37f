"""Reads on integrations: status as shown by `get`, run history and health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from apps.integrations.models import Integration, SyncRun
from apps.integrations.models_revocation import RevocationRun

FINISHED = (SyncRun.Status.SUCCESS, SyncRun.Status.ERROR)


def _rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sync_enabled_integration_ids() -> list[int]:
    """Ids of the integrations whose profile sync is enabled."""
    return list(
        Integration.objects.filter(sync_enabled=True).order_by("pk").values_list("pk", flat=True)
    )


def last_finished_run(integration: Integration) -> SyncRun | None:
    """The latest run that ended in SUCCESS or ERROR (skipped and running ones do not count)."""
    return integration.sync_runs.filter(status__in=FINISHED).order_by("-started_at", "-id").first()


def last_profile_sync(run: SyncRun | None) -> dict[str, Any] | None:
    """`status.aws_ra.last_profile_sync` as the reference guide shows it."""
    if run is None:
        return None
    return {
        "status": run.status,
        "synced_profiles": run.profiles_synced,
        "error_message": run.error_message,
        "start_time": _rfc3339(run.started_at),
        "end_time": _rfc3339(run.ended_at),
    }


def recent_runs(integration: Integration, limit: int = 20) -> QuerySet[SyncRun]:
    """The integration's latest runs, newest first."""
    return integration.sync_runs.order_by("-started_at", "-id")[:limit]


@dataclass(frozen=True)
class Health:
    """An integration's sync health at a glance."""

    state: str  # "ok", "error", "stale", "never", "disabled", "running"
    summary: str
    consecutive_failures: int
    last_success_at: datetime | None


def integration_health(integration: Integration, *, now: datetime | None = None) -> Health:
    """Summarise the recent runs: failing, stale (no success for 3 intervals), ok."""
    now = now or timezone.now()
    revocation = last_session_revocation(integration)
    if revocation is not None and revocation["status"] == RevocationRun.Status.ERROR:
        # A revocation that did not reach IAM leaves sessions working: never quiet about it.
        first_line = (revocation["error_message"] or "").splitlines()[:1]
        return Health(
            "error",
            f"session revocation failed: {first_line[0] if first_line else ''}"[:300],
            1,
            None,
        )
    if not integration.sync_enabled:
        return Health("disabled", "profile sync is disabled", 0, None)
    runs = list(
        integration.sync_runs.filter(status__in=FINISHED).order_by("-started_at", "-id")[:50]
    )
    last_success = next((r for r in runs if r.status == SyncRun.Status.SUCCESS), None)
    failures = 0
    for run in runs:
        if run.status != SyncRun.Status.ERROR:
            break
        failures += 1
    success_at = last_success.ended_at if last_success else None
    if not runs:
        return Health("never", "no sync has finished yet", 0, None)
    if failures:
        first_line = runs[0].error_message.splitlines()[0] if runs[0].error_message else ""
        return Health(
            "error", f"{failures} failed run(s) in a row: {first_line}"[:300], failures, success_at
        )
    stale_after = timedelta(seconds=3 * int(settings.ROLEGATE_PROFILE_SYNC_INTERVAL))
    if success_at is not None and now - success_at > stale_after:
        return Health("stale", f"last success {success_at:%Y-%m-%d %H:%M} UTC", 0, success_at)
    return Health("ok", f"{runs[0].profiles_synced} profile(s) synced", 0, success_at)


def integrations_overview() -> QuerySet[Integration]:
    """Every integration with its app count and last finished run's outcome, in one query."""
    last_run = SyncRun.objects.filter(integration=OuterRef("pk"), status__in=FINISHED).order_by(
        "-started_at", "-id"
    )
    return Integration.objects.order_by("name").annotate(
        app_count=Count("apps", distinct=True),
        last_status=Subquery(last_run.values("status")[:1]),
        last_ended_at=Subquery(last_run.values("ended_at")[:1]),
        last_synced=Subquery(last_run.values("profiles_synced")[:1]),
        last_error=Subquery(last_run.values("error_message")[:1]),
    )


def integration_by_name(name: str) -> Integration | None:
    """One integration by name, or None."""
    return Integration.objects.filter(name=name).first()


def last_session_revocation(integration: Integration) -> dict[str, Any] | None:
    """`status.aws_ra.last_session_revocation`: the latest finished push to IAM, if any."""
    if not integration.session_revocation_enabled:
        return None
    run = (
        integration.revocation_runs.exclude(status=RevocationRun.Status.RUNNING)
        .order_by("-started_at", "-id")
        .first()
    )
    if run is None:
        return None
    return {
        "status": run.status,
        "attempt": run.attempt,
        "roles_written": run.roles_written,
        "roles_cleared": run.roles_cleared,
        "fallback_roles": list(run.fallback_roles),
        "error_message": run.error_message,
        "start_time": _rfc3339(run.started_at),
        "end_time": _rfc3339(run.ended_at),
    }


def revoked_sessions(integration: Integration, limit: int = 100) -> list[Any]:
    """The revocation entries in force for this integration (newest first)."""
    return list(integration.revoked_sessions.order_by("-revoked_before")[:limit])
