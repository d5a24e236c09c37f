"""Celery adapters for webhook delivery and the CA-expiry warning."""

from __future__ import annotations

from celery import shared_task

from apps.webhooks import services


@shared_task(name="apps.webhooks.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of one delivery (retries are re-enqueued with their backoff)."""
    delivery = services.webhook_attempt(delivery_id=int(delivery_id))
    return delivery.status if delivery is not None else "skipped"


@shared_task(name="apps.webhooks.tasks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Send what is due and was not (broker down at enqueue, a worker lost); idempotent."""
    sent = 0
    for delivery_id in services.due_deliveries():
        if services.webhook_attempt(delivery_id=delivery_id) is not None:
            sent += 1
    return sent


@shared_task(name="apps.webhooks.tasks.warn_ca_expiry", ignore_result=True)
def warn_ca_expiry() -> int:
    """Audit (and so notify) certificate authorities nearing expiry, once a day each."""
    from apps.authority.services import ca_expiry_warn

    return ca_expiry_warn()
