"""Celery adapters for access requests (the beat entry lives in portal/celery.py)."""

from __future__ import annotations

from celery import shared_task

from apps.access.requests.services import access_requests_expire


@shared_task(name="apps.access.tasks.expire_access_requests", ignore_result=True)
def expire_access_requests() -> dict[str, int]:
    """Expire unreviewed requests past their deadline and mark grants that reached their end."""
    result = access_requests_expire()
    return {"expired": result.expired, "ended": result.ended}
