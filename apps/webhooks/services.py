"""Webhook writes: endpoints (audited), the outbox rows written with each event, delivery."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core import jobs
from apps.core.errors import DomainError
from apps.core.identity import Actor
from apps.webhooks import payloads, signing
from apps.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
USER_AGENT = "Rolegate-Webhooks/1"


class WebhookInvalid(DomainError, ValueError):
    """An endpoint that cannot be saved as given; the message says why."""

    code = "invalid"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def max_attempts() -> int:
    """Attempts per delivery before it fails for good (ROLEGATE_WEBHOOK_MAX_ATTEMPTS)."""
    return max(1, _setting("ROLEGATE_WEBHOOK_MAX_ATTEMPTS", 6))


def disable_after() -> int:
    """Deliveries failed in a row that disable an endpoint (ROLEGATE_WEBHOOK_DISABLE_AFTER)."""
    return max(1, _setting("ROLEGATE_WEBHOOK_DISABLE_AFTER", 5))


def backoff(attempt: int) -> timedelta:
    """Delay before retry ``attempt`` (1-based): exponential from the base, capped, jittered."""
    base = _setting("ROLEGATE_WEBHOOK_BACKOFF_SECONDS", 30)
    delay = min(base * 2 ** (attempt - 1), 3600)
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


def _validate(*, name: str, url: str, event_types: list[str], payload_format: str) -> None:
    if not name or len(name) > 64:
        raise WebhookInvalid("The name must be 1-64 characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookInvalid("The URL must be an http:// or https:// address.")
    unknown = sorted(set(event_types) - set(payloads.WEBHOOK_EVENT_TYPES))
    if unknown:
        raise WebhookInvalid(
            f"Unknown event type(s): {', '.join(unknown)} "
            f"(known: {', '.join(payloads.WEBHOOK_EVENT_TYPES)})."
        )
    if not event_types:
        raise WebhookInvalid("Choose at least one event type.")
    if payload_format not in WebhookEndpoint.PayloadFormat.values:
        raise WebhookInvalid("The payload format must be 'json' or 'slack'.")


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # Never the secret: the audit log is exported to SIEMs.
    return {
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "payload_format": endpoint.payload_format,
        "enabled": endpoint.enabled,
    }


def webhook_endpoint_save(
    *,
    actor: Actor,
    name: str,
    url: str,
    secret: str,
    event_types: list[str],
    payload_format: str = WebhookEndpoint.PayloadFormat.JSON,
    enabled: bool = True,
) -> WebhookEndpoint:
    """Create or update an endpoint (re-enabling resets its failure count); audited."""
    _validate(name=name, url=url, event_types=event_types, payload_format=payload_format)
    if len(secret) < 16:
        raise WebhookInvalid("The secret must be at least 16 characters.")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(name=name).first()
        before = _snapshot(endpoint) if endpoint else None
        if endpoint is None:
            endpoint = WebhookEndpoint(name=name, created_by=getattr(actor, "username", "") or "")
        endpoint.url, endpoint.secret = url, secret
        endpoint.event_types = sorted(set(event_types))
        endpoint.payload_format = payload_format
        if enabled and not endpoint.enabled:
            endpoint.consecutive_failures = 0
            endpoint.disabled_reason, endpoint.disabled_at = "", None
        endpoint.enabled = enabled
        endpoint.save()
        audit_record(
            event_type=events.WEBHOOK_ENDPOINT_CREATED
            if before is None
            else events.WEBHOOK_ENDPOINT_UPDATED,
            actor=actor,
            target_kind="webhook_endpoint",
            target_name=name,
            details={"before": before, "after": _snapshot(endpoint)},
        )
    return endpoint


def webhook_endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its delivery log; audited."""
    with transaction.atomic():
        before = _snapshot(endpoint)
        name = endpoint.name
        endpoint.delete()
        audit_record(
            event_type=events.WEBHOOK_ENDPOINT_DELETED,
            actor=actor,
            target_kind="webhook_endpoint",
            target_name=name,
            details={"before": before},
        )


def _public_url() -> str:
    return str(getattr(settings, "ROLEGATE_PUBLIC_URL", "http://127.0.0.1:8000"))


def build_payload(endpoint: WebhookEndpoint, kind: str, event: AuditEvent) -> dict[str, Any]:
    """The body ``endpoint`` gets for ``event``, in its format."""
    if endpoint.payload_format == WebhookEndpoint.PayloadFormat.SLACK:
        return payloads.slack_payload(kind=kind, event=event, public_url=_public_url())
    return payloads.json_payload(kind=kind, event=event, delivery_id=None, public_url=_public_url())


def deliveries_for_event(event: AuditEvent) -> None:
    """Queue the event for every enabled endpoint subscribed to it (audit_record calls this).

    The rows are written in the event's own transaction (an outbox), so a change that rolls back
    notifies nobody and one that commits is delivered even if the broker was down: the beat
    sweep sends what the after-commit enqueue could not.
    """
    kind = payloads.webhook_type(event.event_type, event.outcome)
    if kind is None:
        return
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(enabled=True) if kind in (e.event_types or [])
    ]
    if not endpoints:
        return
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=event.id,
                event_type=kind,
                payload=json.loads(json.dumps(build_payload(endpoint, kind, event), default=str)),
            )
            for endpoint in endpoints
        ]
    )
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids: list[int], countdown: float = 0) -> None:
    # By name, not by import: the task module calls this module back (apps/core/jobs.py).
    deliver_webhook = jobs.task("apps.webhooks.tasks.deliver_webhook")
    for delivery_id in ids:
        try:
            deliver_webhook.apply_async(args=(delivery_id,), countdown=countdown)
        except Exception:  # the broker is down: the beat sweep delivers it
            log.warning("could not enqueue webhook delivery %s; the sweep will", delivery_id)


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt got."""

    status_code: int | None
    error: str
    retryable: bool


_pool = urllib3.PoolManager(retries=False)


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> AttemptResult:
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(endpoint.secret, timestamp, body),
        signing.EVENT_HEADER: delivery.event_type,
        signing.DELIVERY_HEADER: str(delivery.pk),
    }
    seconds = float(getattr(settings, "ROLEGATE_WEBHOOK_TIMEOUT", 5))
    try:
        response = _pool.request(
            "POST",
            endpoint.url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=seconds, read=seconds),
            redirect=False,
            preload_content=False,
        )
        response.read(64 * 1024)  # enough to keep the connection reusable, never unbounded
        response.release_conn()
    except urllib3.exceptions.TimeoutError:
        return AttemptResult(None, f"timed out after {seconds:g} s", True)
    except urllib3.exceptions.HTTPError as error:
        return AttemptResult(None, f"connection failed: {type(error).__name__}"[:500], True)
    status = int(response.status)
    if 200 <= status < 300:
        return AttemptResult(status, "", False)
    # 408 and 429 are the receiver asking for a later try; other 4xx will not change by retrying.
    retryable = status >= 500 or status in (408, 429)
    return AttemptResult(status, f"HTTP {status}", retryable)


def webhook_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Make the next attempt of a pending delivery; schedule a retry or settle it.

    Takes the row with ``skip_locked`` so a task and the beat sweep never send it twice at once.
    Returns the delivery (None when it is gone, settled, or being sent by someone else).
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        if not endpoint.enabled:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = f"endpoint disabled: {endpoint.disabled_reason or 'by an admin'}"
            delivery.save(update_fields=["status", "last_error"])
            return delivery
        started = time.monotonic()
        result = _post(endpoint, delivery)
        delivery.attempts += 1
        last = delivery.attempts >= max_attempts()
        will_retry = result.retryable and not last
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            status_code=result.status_code,
            error=result.error,
            duration_ms=int((time.monotonic() - started) * 1000),
            will_retry=will_retry,
        )
        delivery.last_status_code, delivery.last_error = result.status_code, result.error
        if not result.error:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = timezone.now()
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        elif will_retry:
            delivery.next_attempt_at = timezone.now() + backoff(delivery.attempts)
        else:
            delivery.status = WebhookDelivery.Status.FAILED
            _count_failure(endpoint, result)
        delivery.save()
    if will_retry:
        countdown = max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds())
        transaction.on_commit(lambda: _enqueue([delivery.pk], countdown))
    return delivery


def _count_failure(endpoint: WebhookEndpoint, result: AttemptResult) -> None:
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    locked.consecutive_failures += 1
    if locked.enabled and locked.consecutive_failures >= disable_after():
        locked.enabled = False
        locked.disabled_at = timezone.now()
        locked.disabled_reason = (
            f"disabled after {locked.consecutive_failures} deliveries failed in a row "
            f"(last: {result.error})"
        )[:500]
        audit_record(
            event_type=events.WEBHOOK_ENDPOINT_DISABLED,
            actor=None,
            outcome=AuditEvent.Outcome.ERROR,
            target_kind="webhook_endpoint",
            target_name=locked.name,
            details={"reason": locked.disabled_reason, "url": locked.url},
        )
    locked.save(update_fields=["consecutive_failures", "enabled", "disabled_at", "disabled_reason"])
    endpoint.consecutive_failures, endpoint.enabled = locked.consecutive_failures, locked.enabled
    endpoint.disabled_reason = locked.disabled_reason


def due_deliveries(limit: int = 200) -> list[int]:
    """Pending deliveries whose next attempt is due (the sweep's work list)."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
