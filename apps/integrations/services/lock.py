"""The non-blocking per-integration sync lock (an advisory lock plus a "running" marker)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from apps.integrations.models import Integration

log = logging.getLogger(__name__)

# Namespace of the Postgres advisory locks taken by the sync ("RGSY").
_ADVISORY_NAMESPACE = 0x52475359


def lock_stale_after() -> timedelta:
    """How long a "running" marker protects a run (past the task's hard time limit)."""
    return timedelta(seconds=int(settings.ROLEGATE_PROFILE_SYNC_TIME_LIMIT) + 60)


@contextmanager
def sync_lock(integration_id: int) -> Iterator[str | None]:
    """Take the integration's sync lock without waiting; yield a token, or None if held.

    PostgreSQL: a session advisory lock (released even if the worker dies, with its
    connection). Everywhere: a "running" marker set by one conditional UPDATE, which is atomic
    on SQLite too and expires after `lock_stale_after()` if a worker died holding it.
    """
    token = secrets.token_hex(16)
    now = timezone.now()
    advisory = False
    key = (_ADVISORY_NAMESPACE, int(integration_id) % 2**31)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            row = cursor.fetchone()
            advisory = bool(row and row[0])
        if not advisory:
            yield None
            return
        # Holding the advisory lock proves no live worker runs; a leftover marker is stale.
        marker = Integration.objects.filter(pk=integration_id)
    else:
        marker = Integration.objects.filter(pk=integration_id).filter(
            Q(sync_lock_until__isnull=True) | Q(sync_lock_until__lt=now)
        )
    try:
        taken = marker.update(sync_lock_token=token, sync_lock_until=now + lock_stale_after())
        if not taken:
            yield None
            return
        try:
            yield token
        finally:
            _release(
                lambda: Integration.objects.filter(pk=integration_id, sync_lock_token=token).update(
                    sync_lock_token="", sync_lock_until=None
                )
            )
    finally:
        if advisory:
            _release(lambda: _advisory_unlock(key))


def _advisory_unlock(key: tuple[int, int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _release(step: Callable[[], object]) -> None:
    """Run one release step; a lost database must not hide the error that ended the sync
    (the advisory lock died with its connection, and a stale marker expires or is ignored)."""
    try:
        step()
    except DatabaseError as error:
        log.warning("releasing the sync lock failed (%s); it expires on its own", error)
