"""Celery adapters for CLI logins."""

from __future__ import annotations

from celery import shared_task

from apps.api.services import cli_logins_purge


@shared_task(name="apps.api.tasks.purge_expired_cli_logins", ignore_result=True)
def purge_expired_cli_logins() -> int:
    """Delete expired device-login requests and ended tokens; returns how many rows went."""
    devices, tokens = cli_logins_purge()
    return devices + tokens
