"""Role editor and explainer views: three personas everywhere, inline errors, no bad writes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.access import services
from apps.access.models import Role
from apps.audit.models import AuditEvent
from apps.core.hooks import synced_apps as synced_apps_hook
from apps.integrations.models import Integration
from apps.resources.models import AwsApp
from rbac.decision import AppFacts

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"
READ_ONLY = f"arn:aws:iam::{ACCOUNT}:role/ExampleReadOnlyAccess"
PROFILE = f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/11111111-2222-3333-4444-555555555555"
SYNCED = [
    AppFacts(
        name="example-read-only-access",
        labels={"rolegate.dev/aws-roles-anywhere-profile-arn": PROFILE, "aws_account_id": ACCOUNT},
        account_id=ACCOUNT,
        role_arns=frozenset({READ_ONLY}),
    ),
    AppFacts(name="other", labels={"aws_account_id": ACCOUNT}, account_id=ACCOUNT),
]
GUIDE_FORM = {
    "mode": "form",
    "name": "example-read-only-access",
    "allow_labels": f"teleport.dev/aws-roles-anywhere-profile-arn: '{PROFILE}'",
    "allow_arns": READ_ONLY,
    "max_session_ttl": "4h",
}


@pytest.fixture(autouse=True)
def synced_apps(db: Any) -> None:
    # The rows the profile sync writes; the pages read them through the catalog.
    integration = Integration.objects.create(
        name="aws-sandbox",
        sub_kind="aws-ra",
        trust_anchor_arn=f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/t",
        partition="aws",
        region="us-east-1",
        account_id=ACCOUNT,
        sync_profile_arn=f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/sync",
        sync_role_arn=f"arn:aws:iam::{ACCOUNT}:role/RolegateProfileSync",
    )
    for facts in SYNCED:
        AwsApp.objects.create(
            name=facts.name,
            integration=integration,
            profile_arn=PROFILE if facts.role_arns else PROFILE.replace("1111", "9999"),
            profile_name=facts.name,
            labels=facts.labels,
            account_id=facts.account_id,
            region="us-east-1",
            partition="aws",
            role_arns=sorted(facts.role_arns),
            console_url="https://console.aws.amazon.com/",
            last_confirmed_at=timezone.now(),
        )
    assert synced_apps_hook() == SYNCED


@pytest.fixture
def existing_role(staff_user: Any) -> Role:
    return services.role_create(
        actor=staff_user,
        name="existing",
        spec={"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ_ONLY]}},
    )


def _persona_client(persona: str, client: Client, make_user: Any) -> Client:
    if persona != "anonymous":
        client.force_login(make_user(persona, is_staff=persona == "staff"))
    return client


VIEWS = [
    ("get", "/manage/roles/", {}),
    ("get", "/manage/roles/-/new/", {}),
    ("post", "/manage/roles/-/new/", GUIDE_FORM),
    ("post", "/manage/roles/-/validate/", GUIDE_FORM),
    ("get", "/manage/roles/existing/", {}),
    ("post", "/manage/roles/existing/", {**GUIDE_FORM, "max_session_ttl": "1h"}),
    ("get", "/manage/roles/existing/delete/", {}),
    ("post", "/manage/roles/existing/delete/", {}),
    ("get", "/manage/explain/", {"user": "operator-x", "app": "other"}),
]


@pytest.mark.parametrize(("method", "url", "data"), VIEWS)
@pytest.mark.parametrize("persona", ["staff", "plain", "anonymous"])
def test_personas(
    persona: str,
    method: str,
    url: str,
    data: dict[str, str],
    client: Client,
    make_user: Any,
    existing_role: Role,
) -> None:
    client = _persona_client(persona, client, make_user)
    roles_before = list(Role.objects.values_list("name", "revision"))
    response = getattr(client, method)(url, data)
    if persona == "anonymous":
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    elif persona == "plain":
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 302, 404)
        return
    assert list(Role.objects.values_list("name", "revision")) == roles_before


def test_create_from_form_audits_and_redirects(staff_client: Client) -> None:
    response = staff_client.post("/manage/roles/-/new/", GUIDE_FORM)
    assert response.status_code == 302
    role = Role.objects.get(name="example-read-only-access")
    assert role.spec["allow"]["app_labels"] == {
        "rolegate.dev/aws-roles-anywhere-profile-arn": [PROFILE]
    }
    assert role.spec["options"] == {"max_session_ttl": "4h"}
    assert AuditEvent.objects.filter(event_type="role.created", actor_name="operator").exists()
    page = staff_client.get(response["Location"])
    assert "example-read-only-access" in page.content.decode()
    assert READ_ONLY in page.content.decode()  # the preview lists the granted IAM role


def test_create_from_yaml(staff_client: Client) -> None:
    document = (
        "kind: role\nversion: v6\nmetadata: {name: from-yaml}\n"
        "spec: {deny: {app_labels: {'*': '*'}}}\n"
    )
    response = staff_client.post("/manage/roles/-/new/", {"mode": "yaml", "document": document})
    assert response.status_code == 302
    assert Role.objects.get(name="from-yaml").version == "v6"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"allow_labels": "env: '^(prod$'"}, "allow_labels", "invalid regular expression"),
        ({"allow_labels": "env: [unclosed"}, "allow_labels", "invalid YAML"),
        ({"allow_arns": "arn:aws:iam::12345:role/x"}, "allow_arns", "invalid account id"),
        ({"allow_arns": "{{internal.x"}, "allow_arns", "without a closing"),
        ({"max_session_ttl": "13h"}, "max_session_ttl", "outside 15m..12h"),
        ({"name": "Bad Name"}, "name", "not a valid role name"),
    ],
)
def test_invalid_input_gives_inline_errors_and_no_write(
    staff_client: Client, data: dict[str, str], field: str, message: str
) -> None:
    response = staff_client.post("/manage/roles/-/new/", {**GUIDE_FORM, **data})
    assert response.status_code == 400
    body = response.content.decode()
    start = body.index(f'id="errors-{field}"')
    assert message in body[start : start + 600]
    assert not Role.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="role.").exists()


def test_invalid_yaml_document_is_refused(staff_client: Client) -> None:
    response = staff_client.post(
        "/manage/roles/-/new/", {"mode": "yaml", "document": "kind: role\nspec: [\n"}
    )
    assert response.status_code == 400
    assert "invalid YAML" in response.content.decode()
    assert not Role.objects.exists()


def test_live_validation_returns_oob_errors_and_preview(staff_client: Client) -> None:
    bad = staff_client.post(
        "/manage/roles/-/validate/",
        {**GUIDE_FORM, "allow_labels": "env: '^($'"},
        HTTP_HX_REQUEST="true",
    )
    body = bad.content.decode()
    assert '<div id="errors-allow_labels" hx-swap-oob="true">' in body
    assert "invalid regular expression" in body
    assert "<html" not in body
    good = staff_client.post("/manage/roles/-/validate/", GUIDE_FORM, HTTP_HX_REQUEST="true")
    text = good.content.decode()
    assert "example-read-only-access" in text and READ_ONLY in text
    assert "grants\n    1 app" in text
    assert not Role.objects.exists()


def test_edit_keeps_request_settings_and_refuses_stale_revisions(
    staff_client: Client, staff_user: Any
) -> None:
    services.role_create(
        actor=staff_user,
        name="r",
        spec={"allow": {"app_labels": {"*": "*"}, "request": {"roles": ["admin"]}}},
    )
    form = {**GUIDE_FORM, "revision": "1"}
    assert staff_client.post("/manage/roles/r/", form).status_code == 302
    role = Role.objects.get(name="r")
    assert role.spec["allow"]["request"] == {"roles": ["admin"]}
    assert role.revision == 2
    stale = staff_client.post("/manage/roles/r/", {**form, "max_session_ttl": "1h"})
    assert stale.status_code == 400
    assert "changed by someone else" in stale.content.decode()
    assert Role.objects.get(name="r").revision == 2


def test_yaml_edit_cannot_rename(staff_client: Client, existing_role: Role) -> None:
    document = "kind: role\nmetadata: {name: renamed}\nspec: {}\n"
    response = staff_client.post("/manage/roles/existing/", {"mode": "yaml", "document": document})
    assert response.status_code == 400
    assert "cannot change" in response.content.decode()


def test_delete_confirms_then_deletes(staff_client: Client, existing_role: Role) -> None:
    page = staff_client.get("/manage/roles/existing/delete/")
    assert page.status_code == 200
    assert 'method="post"' in page.content.decode()
    assert Role.objects.filter(name="existing").exists()
    response = staff_client.post("/manage/roles/existing/delete/")
    assert response.status_code == 302
    assert not Role.objects.filter(name="existing").exists()
    assert AuditEvent.objects.filter(event_type="role.deleted").exists()


def test_delete_refuses_a_role_in_use(
    staff_client: Client, existing_role: Role, make_user: Any
) -> None:
    make_user("alice", roles=["existing"])
    response = staff_client.post("/manage/roles/existing/delete/")
    assert response.status_code == 409
    assert "alice" in response.content.decode()
    assert Role.objects.filter(name="existing").exists()


def test_unknown_role_is_404(staff_client: Client) -> None:
    assert staff_client.get("/manage/roles/ghost/").status_code == 404


def test_explainer(staff_client: Client, existing_role: Role, make_user: Any) -> None:
    make_user("alice", roles=["existing"])
    response = staff_client.get(
        "/manage/explain/",
        {"user": "alice", "app": "example-read-only-access", "role_arn": READ_ONLY},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "allowed by existing" in body
    other = staff_client.get("/manage/explain/", {"user": "alice", "app": "other"})
    assert "may not use other" in other.content.decode()
    missing = staff_client.get("/manage/explain/", {"user": "ghost"})
    assert missing.status_code == 404
    assert "No user named" in missing.content.decode()
