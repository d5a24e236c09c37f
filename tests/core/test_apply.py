"""``manage.py apply``: plans for create/change/unchanged/delete, prune limited to owned ones."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.access.models import Role
from apps.accounts.models import OidcConnector, User
from apps.audit.models import AuditEvent
from apps.core.apply import plan_apply, read_path
from apps.core.registry import ResourceError
from apps.integrations.models import Integration

pytestmark = pytest.mark.django_db

ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0b7e1a4e-55f7-4a3c-9b0e-4d1f1c2b3a4d"
)
ADMIN_ARN = "arn:aws:iam::123456789012:role/Admin"


def role(name: str, env: str = "dev") -> str:
    return f"""
kind: role
version: v7
metadata: {{name: {name}}}
spec:
  allow:
    app_labels: {{env: {env}}}
    aws_role_arns: ['{ADMIN_ARN}']
"""


def user(name: str, roles: str = "[dev]") -> str:
    return f"""
kind: user
version: v2
metadata: {{name: {name}}}
spec: {{roles: {roles}, traits: {{}}}}
"""


def integration(name: str, revocation: str = "false") -> str:
    return f"""
kind: integration
sub_kind: aws-ra
version: v1
metadata: {{name: {name}}}
spec:
  aws_ra:
    trust_anchor_arn: {ANCHOR}
    session_revocation: {{enabled: {revocation}}}
"""


def connector(name: str, display: str = "Example IdP") -> str:
    return f"""
kind: oidc_connector
version: v1
metadata: {{name: {name}}}
spec:
  display: {display}
  claims_to_roles:
  - {{claim: groups, value: aws-admins, roles: [dev]}}
"""


def write_tree(root: Path, files: dict[str, str]) -> str:
    for existing in root.glob("*.yaml"):
        existing.unlink()
    for name, text in files.items():
        (root / name).write_text(text)
    return str(root)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("apply", *args, stdout=out)
    return out.getvalue()


ALL_FOUR = {
    "1-roles.yaml": role("dev") + "---" + role("ops"),
    "2-users.yaml": user("alice") + "---" + user("bob"),
    "3-integrations.yaml": integration("aws-a") + "---" + integration("aws-b"),
    "4-connectors.yaml": connector("idp-a") + "---" + connector("idp-b"),
}


def state() -> dict[str, list[str]]:
    return {
        "roles": sorted(Role.objects.values_list("name", flat=True)),
        "users": sorted(User.objects.values_list("username", flat=True)),
        "integrations": sorted(Integration.objects.values_list("name", flat=True)),
        "connectors": sorted(OidcConnector.objects.values_list("name", flat=True)),
    }


def test_dry_run_plans_all_four_actions_for_all_four_kinds(tmp_path: Path) -> None:
    directory = write_tree(tmp_path, ALL_FOUR)
    events = AuditEvent.objects.count()
    planned = run("-f", directory, "--dry-run", "--source", "git:platform")
    for kind, name in [
        ("role", "dev"),
        ("user", "alice"),
        ("integration", "aws-a"),
        ("oidc_connector", "idp-a"),
    ]:
        assert f'{kind} "{name}" will be created' in planned
    assert "dry run: nothing was written" in planned
    assert state() == {"roles": [], "users": [], "integrations": [], "connectors": []}
    assert AuditEvent.objects.count() == events

    applied = run("-f", directory, "--source", "git:platform")
    assert 'role "dev" has been created' in applied
    assert state() == {
        "roles": ["dev", "ops"],
        "users": ["alice", "bob"],
        "integrations": ["aws-a", "aws-b"],
        "connectors": ["idp-a", "idp-b"],
    }

    # Change one of each kind, drop one of each kind, keep the rest.
    changed = {
        "1-roles.yaml": role("dev", env="prod"),
        "2-users.yaml": user("alice", roles="[dev, ops]"),
        "3-integrations.yaml": integration("aws-a", revocation="true"),
        "4-connectors.yaml": connector("idp-a", display="Other IdP"),
    }
    # The kept ones are the untouched halves of ALL_FOUR.
    changed["1-roles.yaml"] += "---" + role("ops")
    changed["2-users.yaml"] += "---" + user("bob")
    changed["3-integrations.yaml"] += "---" + integration("aws-b")
    changed["4-connectors.yaml"] += "---" + connector("idp-b")
    # ops is pruned below, so bob and alice must not hold it for the delete to be allowed.
    changed["1-roles.yaml"] = role("dev", env="prod") + "---" + role("keep")
    changed["2-users.yaml"] = user("alice", roles="[dev, keep]") + "---" + user("bob")
    directory = write_tree(tmp_path, changed)
    before = state()
    events = AuditEvent.objects.count()
    plan = run("-f", directory, "--dry-run", "--source", "git:platform", "--prune")
    assert 'role "dev" will be changed' in plan
    assert "spec.allow.app_labels.env: ['dev'] -> ['prod']" in plan
    assert 'user "alice" will be changed' in plan
    assert "spec.roles: ['dev'] -> ['dev', 'keep']" in plan
    assert 'integration "aws-a" will be changed' in plan
    assert "session_revocation.enabled: False -> True" in plan
    assert 'oidc_connector "idp-a" will be changed' in plan
    assert 'user "bob" is unchanged' in plan
    assert 'integration "aws-b" is unchanged' in plan
    assert 'oidc_connector "idp-b" is unchanged' in plan
    assert 'role "keep" will be created' in plan
    assert 'role "ops" will be deleted' in plan
    assert state() == before
    assert AuditEvent.objects.count() == events


def test_prune_only_touches_resources_owned_by_the_source(tmp_path: Path) -> None:
    run(
        "-f",
        write_tree(tmp_path, {"a.yaml": role("owned-a") + "---" + role("owned-b")}),
        "--source",
        "repo-a",
    )
    run("-f", write_tree(tmp_path, {"b.yaml": role("other")}), "--source", "repo-b")
    Role.objects.create(name="web-made", spec={"allow": {"app_labels": {"env": ["x"]}}})
    run("-f", write_tree(tmp_path, {"c.yaml": role("no-source")}))

    directory = write_tree(tmp_path, {"a.yaml": role("owned-a")})
    plan = run("-f", directory, "--source", "repo-a", "--prune", "--dry-run")
    deletes = [line for line in plan.splitlines() if "will be deleted" in line]
    assert deletes == ['role "owned-b" will be deleted']
    run("-f", directory, "--source", "repo-a", "--prune")
    assert sorted(Role.objects.values_list("name", flat=True)) == [
        "no-source",
        "other",
        "owned-a",
        "web-made",
    ]
    with pytest.raises(CommandError, match="needs --source"):
        run("-f", directory, "--prune")
    # A resource another source manages cannot be taken over (nor pruned) silently.
    with pytest.raises(CommandError, match="managed from 'repo-b'"):
        run("-f", write_tree(tmp_path, {"x.yaml": role("other")}), "--source", "repo-a")


def test_unchanged_resources_are_not_rewritten(tmp_path: Path) -> None:
    directory = write_tree(tmp_path, {"r.yaml": role("dev")})
    run("-f", directory)
    stored = Role.objects.get(name="dev")
    events = AuditEvent.objects.count()
    assert run("-f", directory).splitlines()[0] == 'role "dev" is unchanged'
    again = Role.objects.get(name="dev")
    assert (again.revision, again.updated_at) == (stored.revision, stored.updated_at)
    assert AuditEvent.objects.count() == events


def test_an_invalid_document_writes_nothing_and_names_the_file(tmp_path: Path) -> None:
    directory = write_tree(
        tmp_path,
        {"a.yaml": role("fine"), "b.yaml": role("broken").replace("env: dev", "env: '^(x$'")},
    )
    with pytest.raises(CommandError, match=r"document 2: .*spec\.allow\.app_labels"):
        run("-f", directory)
    assert not Role.objects.exists()
    (tmp_path / "bad.yaml").write_text("kind: role\nmetadata: {name: [\n")
    with pytest.raises(ResourceError, match=r"bad\.yaml: invalid YAML"):
        read_path(str(tmp_path))
    with pytest.raises(CommandError, match="cannot read"):
        run("-f", str(tmp_path / "does-not-exist.yaml"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CommandError, match=r"no \.yaml or \.yml files"):
        run("-f", str(empty))


def test_create_force_reports_created_updated_and_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(role("dev") + "---" + role("ops"))
    out = io.StringIO()
    call_command("create", "-f", str(path), stdout=out)
    assert out.getvalue().splitlines() == [
        'role "dev" has been created',
        'role "ops" has been created',
    ]
    path.write_text(role("dev", env="prod") + "---" + role("ops") + "---" + role("new"))
    out = io.StringIO()
    call_command("create", "--force", "-f", str(path), stdout=out)
    assert out.getvalue().splitlines() == [
        'role "dev" has been updated',
        'role "ops" is unchanged',
        'role "new" has been created',
    ]


def test_the_api_plans_and_applies(make_user: Any) -> None:
    from apps.api.automation import automation_token_create
    from tests.api.test_admin_api import Call

    owner = make_user("ci-owner", is_staff=True, groups=["access admin"])
    roles_only = Call(
        automation_token_create(
            actor=None, name="ci", owner=owner, scopes=["roles:write"]
        ).plaintext
    )
    body = {"yaml": role("dev"), "source": "ci", "dry_run": True}
    planned = roles_only.post("/apply", body)
    assert planned.status_code == 200, planned.content
    assert planned.json() == {
        "applied": False,
        "plan": [{"action": "create", "kind": "role", "name": "dev", "changes": []}],
    }
    assert not Role.objects.exists()
    applied = roles_only.post("/apply", {**body, "dry_run": False})
    assert applied.json()["applied"] is True
    assert Role.objects.filter(name="dev").exists()
    # A user document needs users:write, which this token lacks: nothing is planned or written.
    refused = roles_only.post("/apply", {"yaml": user("eve"), "dry_run": False})
    assert refused.status_code == 403
    assert refused.json()["code"] == "scope_missing"
    assert not User.objects.filter(username="eve").exists()
    bad = roles_only.post("/apply", {"yaml": role("x").replace("env: dev", "env: '^(x$'")})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"].startswith("document 1")


def test_plan_apply_is_all_or_nothing() -> None:
    from apps.core.registry import load_documents

    documents = load_documents(role("one") + "---" + role("one"))
    with pytest.raises(ResourceError, match="appears twice"):
        plan_apply(documents, actor=None)
    assert not Role.objects.exists()
