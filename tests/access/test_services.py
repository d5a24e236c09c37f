"""Role services, selectors and the `role` resource kind, on the database."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.access import selectors, services
from apps.access.models import Role
from apps.audit.models import AuditEvent
from rbac.decision import AppFacts
from rbac.spec import RoleSpecError

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"
READ_ONLY = f"arn:aws:iam::{ACCOUNT}:role/ExampleReadOnlyAccess"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
PROFILE = f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/11111111-2222-3333-4444-555555555555"
GUIDE_SPEC = {
    "allow": {
        "app_labels": {"teleport.dev/aws-roles-anywhere-profile-arn": PROFILE},
        "aws_role_arns": [READ_ONLY],
    }
}
APP = AppFacts(
    name="example-read-only-access",
    labels={"rolegate.dev/aws-roles-anywhere-profile-arn": PROFILE, "aws_account_id": ACCOUNT},
    account_id=ACCOUNT,
    role_arns=frozenset({READ_ONLY, ADMIN}),
)


def test_create_normalizes_and_audits(staff_user: Any) -> None:
    role = services.role_create(actor=staff_user, name="example-read-only-access", spec=GUIDE_SPEC)
    assert role.spec["allow"]["app_labels"] == {
        "rolegate.dev/aws-roles-anywhere-profile-arn": [PROFILE]
    }
    event = AuditEvent.objects.get(event_type="role.created")
    assert event.target_name == "example-read-only-access"
    assert event.details["after"]["spec"] == role.spec


def test_invalid_spec_names_fields_and_writes_nothing(staff_user: Any) -> None:
    spec = {
        "allow": {"app_labels": {"env": "^(prod$"}, "aws_role_arns": ["{{internal.x"]},
        "options": {"max_session_ttl": "forever"},
    }
    with pytest.raises(RoleSpecError) as info:
        services.role_create(actor=staff_user, name="bad", spec=spec)
    fields = [e.field for e in info.value.errors]
    assert fields == [
        "spec.allow.app_labels['env']",
        "spec.allow.aws_role_arns[0]",
        "spec.options.max_session_ttl",
    ]
    assert not Role.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="role.").exists()


def test_update_diffs_and_skips_no_ops(staff_user: Any) -> None:
    services.role_create(actor=staff_user, name="r", spec=GUIDE_SPEC)
    services.role_update(actor=staff_user, name="r", spec=GUIDE_SPEC)
    assert not AuditEvent.objects.filter(event_type="role.updated").exists()
    changed = {**GUIDE_SPEC, "options": {"max_session_ttl": "1h"}}
    role = services.role_update(actor=staff_user, name="r", spec=changed, expected_revision=1)
    assert role.revision == 2
    event = AuditEvent.objects.get(event_type="role.updated")
    assert event.details["changed"] == {
        "options": {"before": None, "after": {"max_session_ttl": "1h"}}
    }
    with pytest.raises(services.RoleConflict):
        services.role_update(actor=staff_user, name="r", spec=GUIDE_SPEC, expected_revision=1)


def test_delete_refuses_roles_in_use(staff_user: Any, make_user: Any) -> None:
    services.role_create(actor=staff_user, name="r", spec=GUIDE_SPEC)
    make_user("alice", roles=["r"])
    with pytest.raises(services.RoleInUse, match="alice"):
        services.role_delete(actor=staff_user, name="r")
    with pytest.raises(services.RoleNotFound):
        services.role_delete(actor=staff_user, name="nope")


def test_selectors_use_one_query_and_the_compiled_cache(
    staff_user: Any, make_user: Any, django_assert_num_queries: Any
) -> None:
    services.role_create(actor=staff_user, name="guide", spec=GUIDE_SPEC)
    services.role_create(
        actor=staff_user,
        name="traits",
        spec={
            "allow": {"app_labels": {"*": "*"}, "aws_role_arns": ["{{internal.aws_role_arns}}"]},
            "options": {"max_session_ttl": "2h"},
        },
    )
    alice = make_user("alice", roles=["guide", "traits", "deleted-role"])
    alice.traits = {"aws_role_arns": [ADMIN, "*"]}
    with django_assert_num_queries(1):
        assert selectors.allowed_aws_roles(alice, APP) == {READ_ONLY, ADMIN}
    with django_assert_num_queries(1):
        assert selectors.accessible_apps(alice, [APP]) == [(APP, (ADMIN, READ_ONLY))]
    assert selectors.max_session_ttl(alice) == timedelta(hours=2)
    assert selectors.session_ttl(alice, APP, READ_ONLY) == timedelta(hours=8)
    assert selectors.session_ttl(alice, APP, ADMIN) == timedelta(hours=2)
    assert selectors.explain(alice, APP, ADMIN).allowed


def test_a_role_that_no_longer_validates_fails_closed(staff_user: Any, make_user: Any) -> None:
    services.role_create(actor=staff_user, name="guide", spec=GUIDE_SPEC)
    Role.objects.create(name="broken", spec={"allow": {"app_labels": {"env": "^($"}}})
    alice = make_user("alice", roles=["guide", "broken"])
    assert selectors.allowed_aws_roles(alice, APP) == set()


def test_inactive_and_anonymous_users_get_nothing(staff_user: Any, make_user: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    services.role_create(actor=staff_user, name="guide", spec=GUIDE_SPEC)
    alice = make_user("alice", roles=["guide"], is_active=False)
    assert selectors.accessible_apps(alice, [APP]) == []
    assert selectors.allowed_aws_roles(AnonymousUser(), APP) == set()


# --- manage.py create/get/rm -------------------------------------------------------------------

ROLE_YAML = f"""
kind: role
version: v7
metadata:
  name: example-read-only-access
spec:
  allow:
    app_labels:
      'teleport.dev/aws-roles-anywhere-profile-arn': '{PROFILE}'
    aws_role_arns:
    - {READ_ONLY}
    - '{{{{external.aws_role_arns}}}}'
    request:
      roles: [admin]
---
kind: user
version: v2
metadata:
  name: alice
spec:
  roles: [example-read-only-access]
"""


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_role_kind_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(ROLE_YAML)
    run("create", "-f", str(path))
    document = yaml.safe_load(run("get", "role/example-read-only-access"))
    assert document["kind"] == "role"
    assert list(document["spec"]["allow"]["app_labels"]) == [
        "rolegate.dev/aws-roles-anywhere-profile-arn"
    ]
    assert document["spec"]["allow"]["request"] == {"roles": ["admin"]}
    path.write_text(yaml.safe_dump(document))
    before = AuditEvent.objects.count()
    run("create", "--force", "-f", str(path))
    assert AuditEvent.objects.count() == before
    with pytest.raises(CommandError, match="assigned to 1 user"):
        run("rm", "role/example-read-only-access")


@pytest.mark.parametrize("version", ["v5", "v6", "v7"])
def test_role_versions_accepted(tmp_path: Path, version: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"kind: role\nversion: {version}\nmetadata: {{name: r}}\nspec: {{}}\n")
    run("create", "-f", str(path))
    assert Role.objects.get(name="r").version == version


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("version: v4\nmetadata: {name: r}", "unsupported version"),
        ("metadata: {name: r}\nspec: {allow: {app_labels: {env: '^($'}}}", "invalid regular"),
        ("metadata: {name: r}\nspec: {allow: {aws_role_arns: [{{internal.x}}]}}", "unhashable"),
        (
            "metadata: {name: r}\nspec: {allow: {app_labels: {aws_account_id: 123456789012}}}",
            "must be a string",
        ),
        ("metadata: {name: r}\nspec: {allow: {logins: [root]}}", "unknown field"),
    ],
)
def test_bad_role_documents_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("kind: role\n" + body + "\n")
    with pytest.raises(CommandError, match=message):
        run("create", "-f", str(path))
    assert not Role.objects.exists()


def test_user_with_unknown_role_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.yaml"
    path.write_text("kind: user\nversion: v2\nmetadata: {name: bob}\nspec: {roles: [ghost]}\n")
    with pytest.raises(CommandError, match="unknown role"):
        run("create", "-f", str(path))
