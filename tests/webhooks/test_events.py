"""The operations events webhooks announce: sync failing/recovered, CA nearing expiry; and the
webhooks API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from apps.audit import events
from apps.audit.models import AuditEvent
from apps.webhooks.models import WebhookDelivery
from tests.authority.conftest import ca_settings  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0b7e1a4e-55f7-4a3c-9b0e-4d1f1c2b3a4d"
)


def test_ca_expiry_is_warned_once_a_day(ca_settings: Any) -> None:  # noqa: F811 - fixture
    from apps.authority.services import ca_ensure, ca_expiry_warn
    from apps.webhooks.services import webhook_endpoint_save

    webhook_endpoint_save(
        actor=None,
        name="ops",
        url="https://hooks.example/ops",
        secret="x" * 20,
        event_types=[events.CA_EXPIRY_WARNED],
    )
    authority = ca_ensure(actor=None)
    assert ca_expiry_warn() == 0  # ten years left
    near = authority.not_after - timedelta(days=10)
    for offset, written in ((0, 1), (1, 0), (25, 1)):
        with time_machine.travel(near + timedelta(hours=offset), tick=False):
            assert ca_expiry_warn() == written
    warned = AuditEvent.objects.filter(event_type=events.CA_EXPIRY_WARNED)
    assert warned.count() == 2
    assert warned.first() is not None
    assert {e.details["days_left"] for e in warned} == {10, 8}
    assert WebhookDelivery.objects.filter(event_type=events.CA_EXPIRY_WARNED).count() == 2


def test_sync_failure_and_recovery_are_announced_once_each() -> None:
    from apps.integrations.models import Integration, SyncRun
    from apps.integrations.services.sync import _finish

    integration = Integration.objects.create(
        name="aws-prod",
        trust_anchor_arn=ANCHOR,
        partition="aws",
        region="us-east-1",
        account_id="123456789012",
    )
    statuses = [SyncRun.Status.SUCCESS, *[SyncRun.Status.ERROR] * 2, *[SyncRun.Status.SUCCESS] * 2]
    statuses.append(SyncRun.Status.ERROR)
    start = timezone.now()
    for index, status in enumerate(statuses):
        run = SyncRun.objects.create(
            integration=integration, started_at=start + timedelta(minutes=index)
        )
        _finish(
            run,
            status=status,
            error_message="AccessDenied: no" if status == SyncRun.Status.ERROR else "",
        )
    announced = AuditEvent.objects.filter(
        event_type__in=[events.INTEGRATION_SYNC_FAILED, events.INTEGRATION_SYNC_RECOVERED]
    ).order_by("id")
    assert [e.event_type for e in announced] == [
        events.INTEGRATION_SYNC_FAILED,
        events.INTEGRATION_SYNC_RECOVERED,
        events.INTEGRATION_SYNC_FAILED,
    ]
    assert announced[0].details["error"] == "AccessDenied: no"


def test_the_webhooks_api(make_user: Any) -> None:
    from tests.api.test_admin_api import Call, token

    owner = make_user("integrator", is_staff=True, groups=["integration admin"])
    caller: Call = token(owner, ["webhooks:write"])
    body = {
        "url": "https://chat.example/hook",
        "secret": "a-secret-long-enough",
        "event_types": ["access_request.created", "sessions.revoked"],
        "payload_format": "slack",
    }
    created = caller.put("/webhooks/chat", body)
    assert created.status_code == 200, created.content
    assert created.json()["payload_format"] == "slack"
    listed = caller.get("/webhooks").json()
    assert [item["name"] for item in listed["items"]] == ["chat"]
    assert "a-secret-long-enough" not in str(listed)
    refused = caller.put("/webhooks/chat", {**body, "event_types": ["role.created"]})
    assert refused.status_code == 400
    assert "Unknown event type" in refused.json()["detail"]
    deliveries = caller.get("/webhooks/chat/deliveries").json()
    assert deliveries == {"items": [], "next_cursor": None}
    assert caller.delete("/webhooks/chat").status_code == 204
    assert caller.get("/webhooks").json()["items"] == []


def test_the_jsonl_export_with_an_audit_token(make_user: Any) -> None:
    import json

    from apps.audit.services import audit_record
    from tests.api.test_admin_api import token

    owner = make_user("siem", is_staff=True, groups=["auditor"])
    for index in range(3):
        audit_record(
            event_type="role.created", actor=None, target_kind="role", target_name=f"r{index}"
        )
    from apps.audit.chain import audit_seal

    audit_seal()  # the test's transaction never commits, so seal as the beat sweep would
    caller = token(owner, ["audit:read"])
    response = caller.get("/audit/export?event_type=role.created")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [line["target_name"] for line in lines] == ["r2", "r1", "r0"]
    page = caller.get("/audit/export?since=start&limit=2")
    rows = [json.loads(line) for line in b"".join(page.streaming_content).splitlines()]
    assert len(rows) == 2
    resumed = caller.get(f"/audit/export?since={page['X-Rolegate-Next-Since']}&limit=500")
    more = [json.loads(line) for line in b"".join(resumed.streaming_content).splitlines()]
    assert {row["id"] for row in rows}.isdisjoint({row["id"] for row in more})
    assert {"r0", "r1", "r2"} <= {row["target_name"] for row in rows + more}
