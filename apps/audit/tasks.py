"""Celery adapters for the audit chain."""

from __future__ import annotations

from celery import shared_task

from apps.audit.chain import audit_seal
from apps.audit.checkpoints import checkpoint_write


@shared_task(name="apps.audit.tasks.seal_audit_chain", ignore_result=True)
def seal_audit_chain() -> int:
    """Seal what the after-commit seal missed (a crash between commit and seal, say)."""
    return audit_seal(settle_seconds=5)


@shared_task(name="apps.audit.tasks.write_audit_checkpoint", ignore_result=True)
def write_audit_checkpoint() -> int:
    """Seal the backlog, then write a signed checkpoint of the chain out of the database."""
    audit_seal(settle_seconds=5)
    return checkpoint_write().links
