"""The input shapes that reached a 5xx: NUL and lone surrogates in JSON, YAML nested 10,000
deep, durations that overflow a timedelta. Each is a 4xx with a message now, and refusals are
audited (with the bad characters escaped, so the row can always be written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.resources.models import AwsApp

pytestmark = pytest.mark.django_db

NUL = "\x00"
SURROGATE = "\ud800"


def _post_json(path: str, body: Any, **headers: str) -> Any:
    client = Client(raise_request_exception=False)
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/password", {"username": f"al{NUL}ice", "password": "x"}),
        ("/api/v1/auth/device", {"client_name": f"laptop{NUL}"}),
        ("/api/v1/requests", {"roles": ["r"], "reason": f"need{NUL}it"}),
        ("/api/v1/requests", {"roles": [f"r{SURROGATE}"], "reason": "need it"}),
        ("/api/v1/auth/password", {f"user{SURROGATE}name": "alice", "password": "x"}),
    ],
)
def test_unstorable_text_in_any_json_field_is_a_422(path: str, body: Any) -> None:
    response = _post_json(path, body)

    assert response.status_code == 422, response.content[:300]
    payload = response.json()
    assert payload["code"] == "invalid_input"
    assert "NUL character or a lone surrogate" in payload["detail"]
    event = AuditEvent.objects.get(event_type="request.input_refused")
    assert event.outcome == AuditEvent.Outcome.DENIED
    assert event.target_name == f"POST {path}"
    assert "\\u" in event.details["body"]  # what was sent, escaped as JSON sent it


def test_a_nul_in_role_arn_is_refused_and_audited(launch_scenario: Any) -> None:
    from apps.api.services import token_create

    alice = launch_scenario.alice
    token = token_create(actor=alice, user=alice, method="password").plaintext
    response = _post_json(
        f"/api/v1/apps/{launch_scenario.app.name}/credentials",
        {"role_arn": launch_scenario.role_arn + NUL},
        Authorization=f"Bearer {token}",
    )
    assert response.status_code == 422
    event = AuditEvent.objects.get(event_type="request.input_refused")
    assert event.details["field"] == "role_arn"
    assert not AuditEvent.objects.filter(event_type="aws_credentials.requested").exists()


def test_audit_rows_escape_what_postgres_cannot_store() -> None:
    """A refusal's details may hold anything the client sent; the row is still written."""
    event = audit_record(
        event_type="aws_credentials.issued",
        actor=None,
        outcome=AuditEvent.Outcome.DENIED,
        target_name=f"app{NUL}",
        details={"role_arn": f"arn{NUL}", f"k{SURROGATE}": [f"v{SURROGATE}"]},
    )
    event.refresh_from_db()
    assert event.target_name == "app\\u0000"
    assert event.details == {"role_arn": "arn\\u0000", "k\\ud800": ["v\\ud800"]}


DEEP = "[" * 10000 + "]" * 10000


@pytest.mark.parametrize(
    "fields",
    [
        {"mode": "form", "name": "deep", "allow_labels": f"a: {DEEP}", "max_session_ttl": "4h"},
        {"mode": "yaml", "name": "deep", "document": DEEP},
        {"mode": "form", "name": "long", "allow_arns": "x", "max_session_ttl": "99999999999h"},
        {
            "mode": "yaml",
            "name": "long",
            "document": "kind: role\nversion: v7\nmetadata: {name: long}\n"
            "spec: {options: {max_session_ttl: 99999999999h}}\n",
        },
    ],
)
def test_role_editor_refuses_deep_yaml_and_huge_durations(
    staff_client: Any, fields: dict[str, str]
) -> None:
    staff_client.raise_request_exception = False
    response = staff_client.post("/manage/roles/-/new/", fields)
    assert response.status_code in (200, 400), response.status_code
    page = response.content.decode()
    assert "nested deeper than" in page or "longer than any duration" in page, page[-2000:]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEEP, "nested deeper than"),
        (
            "kind: role\nversion: v7\nmetadata: {name: long}\n"
            "spec: {options: {max_session_ttl: 99999999999h}}\n",
            "longer than any duration",
        ),
    ],
)
def test_create_command_refuses_deep_yaml_and_huge_durations(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    with pytest.raises(CommandError) as caught:
        call_command("create", "-f", str(path))
    assert message in str(caught.value)
    assert AwsApp.objects.count() == 0
