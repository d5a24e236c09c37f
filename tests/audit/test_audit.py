"""The audit log: append-only, filtered page, streamed export."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AppendOnlyError, AuditEvent
from apps.audit.services import audit_record
from apps.core.identity import SystemActor


@pytest.fixture
def events(db: Any, plain_user: Any) -> list[AuditEvent]:
    now = timezone.now() - dt.timedelta(seconds=1)
    made = [
        audit_record(
            event_type="aws_credentials.issued",
            actor=plain_user,
            target_kind="app",
            target_name="app-1",
            details={"role_arn": "arn:aws:iam::123456789012:role/R"},
        ),
        audit_record(
            event_type="aws_credentials.issued",
            actor=plain_user,
            outcome="denied",
            target_kind="app",
            target_name="app-2",
        ),
        audit_record(event_type="role.created", actor=None, target_kind="role", target_name="r1"),
    ]
    assert all(event.time <= timezone.now() for event in made)
    assert made[0].time >= now
    return made


def test_append_only_in_code(events: list[Any]) -> None:
    event = events[0]
    event.outcome = "error"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(outcome="error")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).outcome == "success"


def test_admin_is_read_only(staff_client: Any, events: list[Any], staff_user: Any) -> None:
    staff_user.is_superuser = True
    staff_user.save()
    event = events[0]
    assert staff_client.get("/admin/audit/auditevent/").status_code == 200
    assert staff_client.get("/admin/audit/auditevent/add/").status_code == 403
    response = staff_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_record_captures_actor_and_details(events: list[Any], plain_user: Any) -> None:
    event = AuditEvent.objects.get(pk=events[0].pk)
    assert event.actor_id == plain_user.pk
    assert event.actor_name == "bob"
    assert event.details == {"role_arn": "arn:aws:iam::123456789012:role/R"}
    assert AuditEvent.objects.get(pk=events[2].pk).actor_name == "system"
    with pytest.raises(ValueError, match="unknown audit outcome"):
        audit_record(event_type="x", actor=None, outcome="maybe")


@pytest.mark.django_db
def test_a_system_actor_is_recorded_by_name_and_never_as_a_user() -> None:
    named = audit_record(event_type="x", actor=SystemActor("crl-push"))
    overridden = audit_record(event_type="x", actor=SystemActor("crl-push"), actor_name="other")
    assert (named.actor_id, named.actor_name) == (None, "crl-push")
    assert (overridden.actor_id, overridden.actor_name) == (None, "other")


def test_page_personas(client: Any, plain_user: Any, staff_user: Any, db: Any) -> None:
    assert client.get("/audit/").status_code == 302
    client.force_login(plain_user)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.jsonl").status_code == 403
    client.force_login(staff_user)
    assert client.get("/audit/").status_code == 200


def test_page_filters(staff_client: Any, events: list[Any]) -> None:
    page = staff_client.get("/audit/", {"outcome": "denied"}).content.decode()
    assert "app-2" in page and "app-1" not in page
    page = staff_client.get("/audit/", {"event_type": "role."}).content.decode()
    assert "r1" in page and "app-1" not in page
    page = staff_client.get("/audit/", {"actor": "bob"}).content.decode()
    assert "app-1" in page and "r1" not in page
    future = (timezone.now() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page = staff_client.get("/audit/", {"since": future}).content.decode()
    assert "No audit events match" in page


def test_bad_filter_is_a_400(staff_client: Any, events: list[Any]) -> None:
    response = staff_client.get("/audit/", {"since": "yesterday-ish"})
    assert response.status_code == 400
    response = staff_client.get(
        "/audit/", {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"}
    )
    assert response.status_code == 400
    assert b"before" in response.content
    response = staff_client.get("/audit/export.jsonl", {"outcome": "bogus"})
    assert response.status_code == 400


def test_htmx_gets_the_results_fragment(staff_client: Any, events: list[Any]) -> None:
    response = staff_client.get("/audit/", {"outcome": "denied"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="audit-results">')
    assert "<html" not in body


def test_pagination(staff_client: Any, db: Any) -> None:
    for index in range(120):
        audit_record(event_type="bulk.test", actor=None, target_name=f"t{index}")
    first = staff_client.get("/audit/", {"event_type": "bulk."}).content.decode()
    assert "Page 1 of 3 (120 events)" in first
    third = staff_client.get("/audit/", {"event_type": "bulk.", "page": 3}).content.decode()
    assert "Page 3 of 3" in third


def test_export_streams_json_lines(staff_client: Any, events: list[Any]) -> None:
    response = staff_client.get("/audit/export.jsonl", {"event_type": "aws_"})
    assert response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert {record["target_name"] for record in records} == {"app-1", "app-2"}
    assert records[0]["details"] in ({}, {"role_arn": "arn:aws:iam::123456789012:role/R"})
    assert set(records[0]) >= {
        "time",
        "event_type",
        "outcome",
        "actor_name",
        "client_ip",
        "request_id",
    }


def test_request_context_is_recorded(client: Any, make_user: Any) -> None:
    make_user("carol", password="pw-carol-123")
    client.post(
        "/accounts/login/",
        {"username": "carol", "password": "wrong"},
        HTTP_USER_AGENT="pytest-agent",
        HTTP_X_REQUEST_ID="req-123456789",
    )
    event = AuditEvent.objects.get(event_type="user.signed_in", outcome="denied")
    assert event.user_agent == "pytest-agent"
    assert event.request_id == "req-123456789"
    assert event.client_ip == "127.0.0.1"
    assert "wrong" not in json.dumps(event.details)
