"""Users see when access ends: e-mails, the Resources badge, withdrawing a pending request."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from apps.access.requests import services as requests
from apps.access.requests.models import AccessRequest
from apps.audit.models import AuditEvent
from apps.core.templatetags.rolegate import absolute
from tests.resources.conftest import ACCESS_ROLE
from tests.revocation.conftest import KillScenario

pytestmark = pytest.mark.django_db


def test_requester_is_mailed_on_approve_deny_and_end(kill: KillScenario) -> None:
    mail.outbox.clear()
    grant = kill.grant(kill.alice, "30m")
    (approved,) = [m for m in mail.outbox if m.to == ["alice@example.test"]]
    assert "approved" in approved.subject and ACCESS_ROLE in approved.subject
    assert grant.access_ends_at.strftime("%Y-%m-%d %H:%M") in approved.body

    mail.outbox.clear()
    kill.end(grant)
    (ended,) = mail.outbox
    assert ended.to == ["alice@example.test"] and "ended" in ended.subject

    mail.outbox.clear()
    pending = requests.access_request_create(actor=kill.alice, roles=[ACCESS_ROLE], reason="x")
    with kill.capture(execute=True):
        requests.access_request_review(actor=kill.carol, request_id=pending.pk, decision="deny")
    (denied,) = [m for m in mail.outbox if m.to == ["alice@example.test"]]
    assert "denied" in denied.subject


def test_resources_page_marks_grant_only_apps_with_their_end(kill: KillScenario) -> None:
    grant = kill.grant(kill.alice, "30m")
    web = Client()
    web.force_login(kill.alice)
    page = web.get("/").content.decode()
    assert "via access request · until" in page
    assert f">{absolute(grant.access_ends_at.astimezone(UTC))}</time>" in page
    standing = Client()
    standing.force_login(kill.bob)
    assert "via access request" not in standing.get("/").content.decode()


def test_withdraw_a_pending_request_on_the_web(kill: KillScenario) -> None:
    pending = requests.access_request_create(actor=kill.alice, roles=[ACCESS_ROLE], reason="x")
    other = Client()
    other.force_login(kill.bob)
    assert other.post(f"/requests/{pending.pk}/cancel/").status_code == 404
    web = Client()
    web.force_login(kill.alice)
    detail = web.get(f"/requests/{pending.pk}/").content.decode()
    assert "Withdraw this request" in detail
    response = web.post(f"/requests/{pending.pk}/cancel/")
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.state == AccessRequest.State.CANCELLED
    assert AuditEvent.objects.filter(event_type="access_request.cancelled").count() == 1
    # A withdrawn request cannot be approved any more.
    with pytest.raises(requests.RequestNotPending):
        requests.access_request_review(actor=kill.carol, request_id=pending.pk, decision="approve")
    # Withdrawing twice is a no-op; a decided request cannot be withdrawn.
    assert web.post(f"/requests/{pending.pk}/cancel/").status_code == 302
    granted = kill.grant(kill.alice, "30m")
    assert web.post(f"/requests/{granted.pk}/cancel/").status_code == 409


def test_withdraw_through_the_api(kill: KillScenario, token_for: Any) -> None:
    api = token_for(kill.alice)
    created = api.post("/requests", {"roles": [ACCESS_ROLE], "reason": "x"}).json()
    assert token_for(kill.bob).post(f"/requests/{created['id']}/cancel", {}).status_code == 404
    answer = api.post(f"/requests/{created['id']}/cancel", {})
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "cancelled"
    assert api.post("/requests/not-a-uuid/cancel", {}).status_code == 404


def test_get_shows_the_contract_yaml_shape(kill: KillScenario) -> None:
    from apps.integrations.kinds import get

    document = get("aws-prod")
    assert document["spec"]["aws_ra"]["session_revocation"] == {"enabled": True}
    grant = kill.grant(kill.alice, "30m")
    kill.end(grant)
    status = get("aws-prod")["status"]["aws_ra"]["last_session_revocation"]
    assert status["status"] == "SUCCESS" and status["roles_written"] == 1
    assert json.dumps(document)  # YAML/JSON-ready
