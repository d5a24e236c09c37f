"""The admin API with automation tokens: scope x endpoint matrix, owner capabilities, audit."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.access.models import Role
from apps.api.automation import TokenInvalid, automation_token_create, automation_token_revoke
from apps.api.scopes import SCOPES
from apps.audit import events
from apps.audit.models import AuditEvent
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

ROLE_ARN = "arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"
SPEC = {"allow": {"app_labels": {"env": "dev"}, "aws_role_arns": [ROLE_ARN]}}
EVERY_CAPABILITY = ["auditor", "access admin", "integration admin"]


class Call(ApiClient):
    """ApiClient with PUT and DELETE."""

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(
            f"/api/v1{path}",
            data=json.dumps(body),
            content_type="application/json",
            headers=self._headers(),
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self._headers())

    def call(self, method: str, path: str, body: Any = None) -> Any:
        if method == "GET":
            return self.get(path)
        if method == "POST":
            return self.post(path, body)
        if method == "PUT":
            return self.put(path, body)
        return self.delete(path)


def token(owner: Any, scopes: list[str], name: str = "ci") -> Call:
    issued = automation_token_create(actor=None, name=name, owner=owner, scopes=scopes)
    return Call(issued.plaintext)


@pytest.fixture
def admin(make_user: Any) -> Any:
    return make_user("ops", is_staff=True, groups=EVERY_CAPABILITY)


@dataclass(frozen=True)
class Endpoint:
    """One admin operation, the scope it needs, and the status a permitted call gets."""

    method: str
    path: str
    scope: str
    ok: int
    body: Callable[[], Any] | None = None


ENDPOINTS = [
    Endpoint("GET", "/roles", "roles:read", 200),
    Endpoint("GET", "/roles/dev", "roles:read", 200),
    Endpoint("POST", "/roles", "roles:write", 201, lambda: {"name": "new", "spec": SPEC}),
    Endpoint("PUT", "/roles/dev", "roles:write", 200, lambda: {"spec": SPEC}),
    Endpoint("DELETE", "/roles/dev", "roles:write", 204),
    Endpoint("GET", "/integrations", "integrations:read", 200),
    Endpoint("GET", "/integrations/nope", "integrations:read", 404),
    Endpoint("GET", "/integrations/nope/runs", "integrations:read", 404),
    Endpoint(
        "POST",
        "/integrations",
        "integrations:write",
        400,
        lambda: {"metadata": {"name": "aws"}, "spec": {}},
    ),
    Endpoint(
        "PUT",
        "/integrations/nope",
        "integrations:write",
        404,
        lambda: {"metadata": {"name": "nope"}, "spec": {}},
    ),
    Endpoint("DELETE", "/integrations/nope", "integrations:write", 404),
    Endpoint("POST", "/integrations/nope/sync", "integrations:write", 404),
    Endpoint("GET", "/requests/queue", "requests:review", 200),
    Endpoint(
        "POST",
        "/requests/00000000-0000-0000-0000-000000000000/approve",
        "requests:review",
        404,
        lambda: {"reason": "ok"},
    ),
    Endpoint(
        "POST",
        "/requests/00000000-0000-0000-0000-000000000000/deny",
        "requests:review",
        404,
        lambda: {"reason": "no"},
    ),
    Endpoint("GET", "/audit/events", "audit:read", 200),
    Endpoint("GET", "/audit/events?since=start", "audit:read", 200),
    Endpoint("GET", "/audit/export", "audit:read", 200),
]


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_each_scope_against_each_endpoint(endpoint: Endpoint, admin: Any) -> None:
    """Only the endpoint's own scope opens it; every other scope is refused with 403."""
    for index, scope in enumerate(sorted(SCOPES)):
        Role.objects.get_or_create(name="dev", defaults={"spec": SPEC})
        caller = token(admin, [scope], name=f"t{index}")
        body = endpoint.body() if endpoint.body else None
        response = caller.call(endpoint.method, endpoint.path, body)
        if scope == endpoint.scope:
            assert response.status_code == endpoint.ok, (scope, response.content)
        else:
            assert response.status_code == 403, (scope, response.content)
            assert response.json()["code"] == "scope_missing"
            assert endpoint.scope in response.json()["detail"]
    anonymous = Call().call(endpoint.method, endpoint.path, endpoint.body and endpoint.body())
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_a_token_never_does_more_than_its_owner(
    endpoint: Endpoint, make_user: Any, admin: Any
) -> None:
    """The owner's capability is checked at each use: losing it disables the scope at once."""
    Role.objects.get_or_create(name="dev", defaults={"spec": SPEC})
    caller = token(admin, [endpoint.scope])
    admin.groups.clear()
    response = caller.call(endpoint.method, endpoint.path, endpoint.body and endpoint.body())
    if endpoint.scope == "requests:review":
        # No staff capability behind it: the reviewer rules of the roles decide (404/empty).
        assert response.status_code == endpoint.ok
        return
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "capability_missing"
    denied = AuditEvent.objects.filter(
        event_type=events.AUTOMATION_TOKEN_USED, outcome="denied", target_name="ci"
    )
    assert denied.count() == 1


def test_every_use_is_audited_with_the_token_name(admin: Any) -> None:
    caller = token(admin, ["roles:read"], name="terraform")
    assert caller.get("/roles").status_code == 200
    assert caller.get("/audit/events").status_code == 403
    used = AuditEvent.objects.filter(event_type=events.AUTOMATION_TOKEN_USED).order_by("id")
    assert [(e.outcome, e.details["token"], e.details["scope"]) for e in used] == [
        ("success", "terraform", "roles:read"),
        ("denied", "terraform", "audit:read"),
    ]
    assert all(e.actor_name == "ops" for e in used)


def test_revoked_and_expired_tokens_are_refused(admin: Any) -> None:
    issued = automation_token_create(actor=None, name="old", owner=admin, scopes=["roles:read"])
    caller = Call(issued.plaintext)
    assert caller.get("/roles").status_code == 200
    automation_token_revoke(actor=None, token=issued.token)
    assert caller.get("/roles").status_code == 401
    expiring = automation_token_create(
        actor=None, name="short", owner=admin, scopes=["roles:read"], lifetime=timedelta(days=1)
    )
    type(expiring.token).objects.filter(pk=expiring.token.pk).update(
        expires_at=expiring.token.created_at
    )
    assert Call(expiring.plaintext).get("/roles").status_code == 401
    # A wrong secret with a real prefix is no token at all.
    assert Call(issued.plaintext[:-3] + "xyz").get("/roles").status_code == 401


def test_automation_tokens_do_not_work_on_the_cli_endpoints(admin: Any) -> None:
    caller = token(admin, sorted(SCOPES))
    assert caller.get("/me").status_code == 401
    assert caller.get("/apps").status_code == 401


def test_a_cli_token_of_staff_works_by_capability(make_user: Any, token_for: Any) -> None:
    auditor = make_user("aud", is_staff=True, groups=["auditor"])
    cli = token_for(auditor)
    assert cli.get("/audit/events").status_code == 200
    refused = cli.get("/roles")
    assert refused.status_code == 403
    assert refused.json()["code"] == "capability_missing"


def test_creation_refuses_scopes_the_owner_lacks(make_user: Any, admin: Any) -> None:
    auditor = make_user("aud", is_staff=True, groups=["auditor"])
    with pytest.raises(TokenInvalid, match="roles:write"):
        automation_token_create(actor=None, name="x", owner=auditor, scopes=["roles:write"])
    with pytest.raises(TokenInvalid, match="Unknown scope"):
        automation_token_create(actor=None, name="x", owner=admin, scopes=["roles:destroy"])
    with pytest.raises(TokenInvalid, match="someone else"):
        automation_token_create(actor=admin, name="x", owner=auditor, scopes=["audit:read"])
    automation_token_create(actor=None, name="x", owner=admin, scopes=["audit:read"])
    with pytest.raises(TokenInvalid, match="already exists"):
        automation_token_create(actor=None, name="x", owner=admin, scopes=["audit:read"])


def test_manage_py_creates_lists_and_revokes(admin: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "automation_token",
        "create",
        "siem",
        "--owner",
        "ops",
        "--scope",
        "audit:read",
        stdout=out,
        stderr=err,
    )
    plaintext = out.getvalue().strip()
    assert plaintext.startswith("rga_")
    assert "audit:read" in err.getvalue()
    assert Call(plaintext).get("/audit/events").status_code == 200
    listing = io.StringIO()
    call_command("automation_token", "list", stdout=listing)
    assert "siem\tops\taudit:read\tactive" in listing.getvalue()
    assert plaintext not in listing.getvalue()
    call_command("automation_token", "revoke", "siem", stdout=io.StringIO())
    assert Call(plaintext).get("/audit/events").status_code == 401
    with pytest.raises(CommandError, match="no user"):
        call_command("automation_token", "create", "x", "--owner", "ghost", "--scope", "audit:read")


def test_web_page_creates_a_token_shown_once(client: Any, admin: Any) -> None:
    client.force_login(admin)
    response = client.post(
        "/cli/automation-tokens", {"name": "ci-roles", "scopes": ["roles:read"], "days": "30"}
    )
    assert response.status_code == 200
    plaintext = response.context["created"]
    assert plaintext.startswith("rga_")
    assert Call(plaintext).get("/roles").status_code == 200
    listed = client.get("/cli/automation-tokens")
    assert plaintext not in listed.content.decode()
    assert "ci-roles" in listed.content.decode()
    bad = client.post("/cli/automation-tokens", {"name": "Bad Name", "scopes": ["roles:read"]})
    assert bad.status_code == 400
