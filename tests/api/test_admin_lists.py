"""Admin API lists and errors: cursor pagination past a page, validation, JSON errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.access.models import Role
from tests.api.test_admin_api import EVERY_CAPABILITY, SPEC, Call, token

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(make_user: Any) -> Any:
    return make_user("ops", is_staff=True, groups=EVERY_CAPABILITY)


def walk(caller: Call, path: str) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = ""
    while True:
        separator = "&" if "?" in path else "?"
        response = caller.get(f"{path}{separator}cursor={cursor}" if cursor else path)
        assert response.status_code == 200, response.content
        body = response.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_roles_paginate_past_a_page(admin: Any) -> None:
    Role.objects.bulk_create([Role(name=f"role-{i:03d}", spec=SPEC) for i in range(120)])
    items, pages = walk(token(admin, ["roles:read"]), "/roles?limit=50")
    assert [item["name"] for item in items] == [f"role-{i:03d}" for i in range(120)]
    assert pages == 3
    filtered, _ = walk(token(admin, ["roles:read"], name="q"), "/roles?q=role-11")
    assert [item["name"] for item in filtered] == [f"role-11{i}" for i in range(10)]


def test_own_requests_are_no_longer_cut_at_100(make_user: Any, token_for: Any) -> None:
    from apps.access.requests.models import AccessRequest

    user = make_user("carol")
    now = timezone.now()
    rows = AccessRequest.objects.bulk_create(
        [
            AccessRequest(
                requester=user,
                roles=["dev"],
                duration=timedelta(hours=1),
                review_deadline=now + timedelta(hours=1),
            )
            for _ in range(130)
        ]
    )
    items, pages = walk(token_for(user), "/requests?limit=60")
    assert len(items) == 130
    assert len({item["id"] for item in items}) == 130
    assert {item["id"] for item in items} == {str(row.pk) for row in rows}
    assert pages == 3


def test_audit_events_paginate_newest_first(admin: Any) -> None:
    from apps.audit.services import audit_record

    for index in range(75):
        audit_record(
            event_type="role.created", actor=None, target_kind="role", target_name=f"r{index}"
        )
    items, pages = walk(
        token(admin, ["audit:read"]), "/audit/events?limit=30&event_type=role.created"
    )
    assert [item["target_name"] for item in items] == [f"r{i}" for i in reversed(range(75))]
    assert pages == 3


@pytest.mark.parametrize(
    "path", ["/roles?cursor=garbage", "/audit/events?since=12", "/requests/queue?cursor=%%%"]
)
def test_a_bad_cursor_is_a_400(admin: Any, path: str) -> None:
    caller = token(admin, ["roles:read", "audit:read", "requests:review"])
    response = caller.get(path)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_role_validation_matches_the_yaml_loader(admin: Any, tmp_path: Any) -> None:
    import yaml
    from django.core.management import call_command
    from django.core.management.base import CommandError

    bad = {"allow": {"app_labels": {"env": "^(prod$"}, "aws_role_arns": ["{{internal.x"]}}
    caller = token(admin, ["roles:write"])
    response = caller.post("/roles", {"name": "broken", "spec": bad})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    fields = [error["field"] for error in body["errors"]]
    assert fields == ["spec.allow.app_labels['env']", "spec.allow.aws_role_arns[0]"]
    path = tmp_path / "role.yaml"
    path.write_text(yaml.safe_dump({"kind": "role", "metadata": {"name": "broken"}, "spec": bad}))
    with pytest.raises(CommandError) as raised:
        call_command("create", "-f", str(path))
    assert body["detail"] in str(raised.value)
    assert not Role.objects.filter(name="broken").exists()


def test_role_lifecycle(admin: Any) -> None:
    caller = token(admin, ["roles:read", "roles:write"])
    created = caller.post("/roles", {"name": "dev", "spec": SPEC})
    assert created.status_code == 201
    assert created.json()["revision"] == 1
    again = caller.post("/roles", {"name": "dev", "spec": SPEC})
    assert again.status_code == 409
    assert again.json()["code"] == "already_exists"
    changed_spec = {
        "allow": {
            "app_labels": {"env": "prod"},
            "aws_role_arns": [SPEC["allow"]["aws_role_arns"][0]],
        }
    }  # type: ignore[index]
    stale = caller.put("/roles/dev", {"spec": changed_spec, "revision": 7})
    assert stale.status_code == 409
    replaced = caller.put("/roles/dev", {"spec": changed_spec, "revision": 1})
    assert replaced.status_code == 200
    assert replaced.json()["revision"] == 2
    unchanged = caller.put("/roles/dev", {"spec": changed_spec})
    assert unchanged.json()["revision"] == 2
    assert caller.get("/roles/dev").json()["spec"]["allow"]["app_labels"] == {"env": ["prod"]}
    assert caller.delete("/roles/dev").status_code == 204
    assert caller.get("/roles/dev").status_code == 404
    assert caller.delete("/roles/dev").json()["code"] == "not_found"


def test_a_held_role_is_not_editable_by_its_holder(make_user: Any) -> None:
    Role.objects.create(name="dev", spec=SPEC)
    holder = make_user("hold", is_staff=True, groups=EVERY_CAPABILITY, roles=["dev"])
    refused = token(holder, ["roles:write"]).put("/roles/dev", {"spec": SPEC})
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_held"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/no/such/thing", 404),
        ("GET", "/api/v1/roles/x/y/z", 404),
        ("PATCH", "/api/v1/roles", 405),
    ],
)
def test_unknown_api_paths_answer_json(client: Any, method: str, path: str, status: int) -> None:
    response = client.generic(method, path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["code"], str)
    assert body["code"]


def test_openapi_documents_the_admin_api(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/roles",
        "/api/v1/roles/{name}",
        "/api/v1/integrations/{name}/sync",
        "/api/v1/integrations/{name}/runs",
        "/api/v1/requests/queue",
        "/api/v1/requests/{request_id}/approve",
        "/api/v1/audit/events",
        "/api/v1/audit/export",
    ):
        assert path in paths, path
