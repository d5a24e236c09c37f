"""Celery adapters for the audit chain."""

from __future__ import annotations

from celery import shared_task

from apps.audit.chain import audit_seal


@shared_task(name="apps.audit.tasks.seal_audit_chain", ignore_result=True)
def seal_audit_chain() -> int:
    """Extend the hash chain with the events written since the last run."""
    return audit_seal(settle_seconds=5)
