"""The audit hash chain detects edits, deletions and removed links."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.audit.chain import audit_seal, audit_verify
from apps.audit.models import AuditChainLink, AuditEvent
from apps.audit.services import audit_record


@pytest.fixture
def sealed_events(db: Any) -> list[AuditEvent]:
    events = [
        audit_record(
            event_type="test.event", actor=None, target_name=f"t{index}", details={"index": index}
        )
        for index in range(5)
    ]
    assert audit_seal() == 5
    assert audit_seal() == 0  # idempotent
    return events


def verify_command() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_intact_chain(sealed_events: list[AuditEvent]) -> None:
    report = audit_verify()
    assert report.ok
    assert report.links_checked == 5
    assert "audit chain intact: 5 link(s)" in verify_command()


def test_new_events_extend_the_chain(sealed_events: list[AuditEvent]) -> None:
    audit_record(event_type="test.later", actor=None)
    assert "sealed 1 new event(s)" in verify_command()
    assert audit_verify().links_checked == 6


def test_modified_event_is_reported(sealed_events: list[AuditEvent]) -> None:
    target = sealed_events[2]
    with connection.cursor() as cursor:  # what an attacker with SQL access would do
        cursor.execute("UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [target.id])
    report = audit_verify()
    assert not report.ok
    assert report.event_id == target.id
    assert report.reason == "the event was modified"
    with pytest.raises(CommandError, match=f"event {target.id}"):
        verify_command()


def test_deleted_event_is_reported(sealed_events: list[AuditEvent]) -> None:
    target = sealed_events[1]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [target.id])
    report = audit_verify()
    assert (report.ok, report.event_id, report.reason) == (
        False,
        target.id,
        "the event was deleted",
    )


def test_removed_link_is_reported(sealed_events: list[AuditEvent]) -> None:
    links = list(AuditChainLink.objects.order_by("id"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditchainlink WHERE id = %s", [links[3].id])
    report = audit_verify()
    assert not report.ok
    assert report.broken_link_id == links[4].id
    assert "link was removed or altered" in report.reason
