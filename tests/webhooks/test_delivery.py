"""Signed webhooks delivered to a real local HTTP receiver: signatures, retries, disabling."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.tasks import deliver_due_webhooks, deliver_webhook

pytestmark = pytest.mark.django_db

SECRET = "a-shared-secret-of-some-length"


@dataclass
class Receiver:
    """A local HTTP server answering each POST with the next scripted status ("hang" stalls)."""

    script: list[int | str] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append({"headers": dict(self.headers), "body": body})
            answer = state.script.pop(0) if state.script else 200
            if answer == "hang":
                state.release.wait(10)
                answer = 200
            self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def endpoint(receiver: Receiver, *, fmt: str = "json", types: list[str] | None = None) -> Any:
    return services.webhook_endpoint_save(
        actor=None,
        name=f"hook-{fmt}",
        url=receiver.url,
        secret=SECRET,
        event_types=types or [events.ACCESS_REQUEST_APPROVED, events.SESSIONS_REVOKED],
        payload_format=fmt,
    )


def approved_event(request_id: str = "7d5b2c1e-0000-4000-8000-000000000001") -> AuditEvent:
    return audit_record(
        event_type=events.ACCESS_REQUEST_APPROVED,
        actor=None,
        target_kind="access_request",
        target_name=request_id,
        details={"roles": ["db-admin"], "reason": "INC-42 <b>", "requester": "alice"},
    )


def send(delivery: WebhookDelivery) -> WebhookDelivery:
    # Through Celery, with the argument JSON round-tripped as a worker would receive it.
    deliver_webhook.apply(args=json.loads(json.dumps([delivery.pk])))
    delivery.refresh_from_db()
    return delivery


def verify_independently(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (the README's snippet): HMAC-SHA256 over "<timestamp>.<body>"."""
    timestamp = headers["X-Rolegate-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(
        "sha256=" + expected.hexdigest(), headers["X-Rolegate-Signature"]
    )


def test_an_event_is_delivered_signed(receiver: Receiver) -> None:
    hook = endpoint(receiver)
    event = approved_event()
    delivery = WebhookDelivery.objects.get(endpoint=hook)
    assert send(delivery).status == WebhookDelivery.Status.DELIVERED
    [request] = receiver.received
    assert verify_independently(SECRET, request["headers"], request["body"])
    assert not verify_independently("another-secret-entirely", request["headers"], request["body"])
    tampered = request["body"].replace(b"db-admin", b"db-owner")
    assert not verify_independently(SECRET, request["headers"], tampered)
    body = json.loads(request["body"])
    assert body["type"] == "access_request.approved"
    assert body["event_id"] == event.id
    assert body["details"]["roles"] == ["db-admin"]
    assert body["links"]["review"].endswith(f"/requests/{event.target_name}/")
    assert request["headers"]["X-Rolegate-Event"] == "access_request.approved"
    assert request["headers"]["X-Rolegate-Delivery"] == str(delivery.pk)
    assert [(a.number, a.status_code, a.will_retry) for a in delivery.log.all()] == [
        (1, 200, False)
    ]


def test_events_not_subscribed_or_not_webhook_events_queue_nothing(receiver: Receiver) -> None:
    endpoint(receiver, types=[events.SESSIONS_REVOKED])
    approved_event()
    audit_record(event_type=events.ROLE_CREATED, actor=None, target_kind="role", target_name="x")
    # A successful issuance is not an event; a refused one is.
    audit_record(event_type=events.AWS_CREDENTIALS_ISSUED, actor=None, target_name="app")
    assert not WebhookDelivery.objects.exists()
    endpoint(receiver, fmt="slack", types=["aws_credentials.denied"])
    audit_record(
        event_type=events.AWS_CREDENTIALS_ISSUED, actor=None, outcome="denied", target_name="app"
    )
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == [
        "aws_credentials.denied"
    ]


def test_a_500_is_retried_with_exponential_backoff(receiver: Receiver, settings: Any) -> None:
    settings.ROLEGATE_WEBHOOK_BACKOFF_SECONDS = 10
    receiver.script = [500, 503, 200]
    endpoint(receiver)
    approved_event()
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        first = send(delivery)
        assert first.status == WebhookDelivery.Status.PENDING
        first_delay = (first.next_attempt_at - now).total_seconds()
        second = send(delivery)
        second_delay = (second.next_attempt_at - now).total_seconds()
    # 10 s then 20 s, each within the ±20 % jitter.
    assert 8 <= first_delay <= 12
    assert 16 <= second_delay <= 24
    assert send(delivery).status == WebhookDelivery.Status.DELIVERED
    log = [(a.number, a.status_code, a.will_retry) for a in delivery.log.all()]
    assert log == [(1, 500, True), (2, 503, True), (3, 200, False)]
    assert len(receiver.received) == 3
    # Every attempt is signed afresh, each one verifiable.
    assert all(verify_independently(SECRET, r["headers"], r["body"]) for r in receiver.received)


def test_a_timeout_is_retried(receiver: Receiver, settings: Any) -> None:
    settings.ROLEGATE_WEBHOOK_TIMEOUT = 1
    receiver.script = ["hang", 200]
    endpoint(receiver)
    approved_event()
    delivery = send(WebhookDelivery.objects.get())
    receiver.release.set()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_error.startswith("timed out")
    # The sweep sends it once it is due.
    with time_machine.travel(delivery.next_attempt_at, tick=False):
        assert deliver_due_webhooks.apply().get() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert [a.error.startswith("timed out") for a in delivery.log.all()] == [True, False]


def test_a_4xx_is_not_retried(receiver: Receiver) -> None:
    receiver.script = [410]
    endpoint(receiver)
    approved_event()
    delivery = send(WebhookDelivery.objects.get())
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 1


def test_persistent_failure_disables_the_endpoint(receiver: Receiver, settings: Any) -> None:
    settings.ROLEGATE_WEBHOOK_MAX_ATTEMPTS = 2
    settings.ROLEGATE_WEBHOOK_DISABLE_AFTER = 2
    receiver.script = [500] * 10
    hook = endpoint(receiver)
    for index in range(2):
        approved_event(f"7d5b2c1e-0000-4000-8000-00000000000{index}")
        delivery = WebhookDelivery.objects.order_by("-id").first()
        assert delivery is not None
        send(delivery)
        assert send(delivery).status == WebhookDelivery.Status.FAILED
    hook.refresh_from_db()
    assert not hook.enabled
    assert "2 deliveries failed in a row" in hook.disabled_reason
    assert "HTTP 500" in hook.disabled_reason
    disabled = AuditEvent.objects.filter(event_type=events.WEBHOOK_ENDPOINT_DISABLED)
    assert list(disabled.values_list("target_name", flat=True)) == [hook.name]
    # A disabled endpoint gets nothing new; re-enabling resets the count.
    approved_event("7d5b2c1e-0000-4000-8000-000000000009")
    assert WebhookDelivery.objects.count() == 2
    services.webhook_endpoint_save(
        actor=None,
        name=hook.name,
        url=hook.url,
        secret=SECRET,
        event_types=hook.event_types,
    )
    hook.refresh_from_db()
    assert (hook.enabled, hook.consecutive_failures, hook.disabled_reason) == (True, 0, "")


def test_slack_payload_shape(receiver: Receiver) -> None:
    endpoint(receiver, fmt="slack")
    event = approved_event()
    send(WebhookDelivery.objects.get())
    body = json.loads(receiver.received[0]["body"])
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("Access request approved: access_request/")
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "actions"]
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert "*Roles*\ndb-admin" in fields
    assert "*Reason*\nINC-42 &lt;b&gt;" in fields  # escaped: no markup injected into Slack
    [button] = body["blocks"][2]["elements"]
    assert button["url"].endswith(f"/requests/{event.target_name}/")
    # A link to the review page only: approving needs a signed-in reviewer there.
    everything = json.dumps(body)
    assert "approve" not in everything.replace("approved", "")
    assert SECRET not in everything


def test_endpoint_validation() -> None:
    with pytest.raises(services.WebhookInvalid, match="http"):
        services.webhook_endpoint_save(
            actor=None, name="x", url="ftp://x", secret=SECRET, event_types=["sessions.revoked"]
        )
    with pytest.raises(services.WebhookInvalid, match="Unknown event"):
        services.webhook_endpoint_save(
            actor=None, name="x", url="https://x.test/", secret=SECRET, event_types=["role.created"]
        )
    with pytest.raises(services.WebhookInvalid, match="16 characters"):
        services.webhook_endpoint_save(
            actor=None,
            name="x",
            url="https://x.test/",
            secret="short",
            event_types=["sessions.revoked"],
        )
    saved = services.webhook_endpoint_save(
        actor=None, name="x", url="https://x.test/", secret=SECRET, event_types=["sessions.revoked"]
    )
    created = AuditEvent.objects.get(event_type=events.WEBHOOK_ENDPOINT_CREATED)
    assert SECRET not in json.dumps(created.details)
    assert WebhookEndpoint.objects.get().pk == saved.pk


def test_the_delivery_log_is_visible_to_integration_admins(
    receiver: Receiver, client: Any, make_user: Any
) -> None:
    endpoint(receiver)
    approved_event()
    send(WebhookDelivery.objects.get())
    client.force_login(make_user("integrator", is_staff=True, groups=["integration admin"]))
    page = client.get("/admin/webhooks/webhookdelivery/")
    assert page.status_code == 200
    assert "access_request.approved" in page.content.decode()
    client.force_login(make_user("auditor", is_staff=True, groups=["auditor"]))
    assert client.get("/admin/webhooks/webhookdelivery/").status_code == 403
