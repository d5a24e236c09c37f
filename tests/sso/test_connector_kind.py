"""The ``oidc_connector`` resource through ``manage.py create/get/rm``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import OidcConnector
from apps.audit.models import AuditEvent

ROLE = """
kind: role
version: v7
metadata: {name: aws-admin}
spec:
  allow:
    app_labels: {'*': '*'}
    aws_role_arns: ['arn:aws:iam::123456789012:role/Admin']
"""

CONNECTOR = """
kind: oidc_connector
version: v1
metadata: {name: oidc}
spec:
  display: Example IdP
  claims_to_roles:
  - {claim: groups, value: aws-admins, roles: [aws-admin]}
  - {claim: groups, value: 'ops-*', roles: aws-admin}
"""


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, text: str, name: str = "resources.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_get_replace_and_remove(tmp_path: Path, db: Any) -> None:
    run("create", "-f", write(tmp_path, ROLE + "---" + CONNECTOR))
    connector = OidcConnector.objects.get(name="oidc")
    assert connector.spec["claims_to_roles"][1] == {
        "claim": "groups",
        "value": "ops-*",
        "roles": ["aws-admin"],
    }
    printed = yaml.safe_load(run("get", "oidc_connector/oidc", "--format", "yaml"))
    assert printed["kind"] == "oidc_connector"
    assert printed["spec"]["display"] == "Example IdP"
    assert len(printed["spec"]["claims_to_roles"]) == 2
    created = AuditEvent.objects.get(event_type="oidc_connector.created", target_name="oidc")
    assert created.details["before"] is None

    with pytest.raises(CommandError, match="already exists"):
        run("create", "-f", write(tmp_path, CONNECTOR))

    # `get` output fed back with --force is a no-op; a change is audited with before/after.
    round_trip = write(tmp_path, yaml.safe_dump(printed), "printed.yaml")
    run("create", "--force", "-f", round_trip)
    assert not AuditEvent.objects.filter(event_type="oidc_connector.updated").exists()
    printed["spec"]["claims_to_roles"] = printed["spec"]["claims_to_roles"][:1]
    run("create", "--force", "-f", write(tmp_path, yaml.safe_dump(printed), "edited.yaml"))
    updated = AuditEvent.objects.get(event_type="oidc_connector.updated")
    assert len(updated.details["before"]["claims_to_roles"]) == 2
    assert len(updated.details["after"]["claims_to_roles"]) == 1

    run("rm", "oidc_connector/oidc")
    assert not OidcConnector.objects.exists()
    assert AuditEvent.objects.filter(event_type="oidc_connector.deleted").exists()
    with pytest.raises(CommandError, match="not found"):
        run("rm", "oidc_connector/oidc")


def test_unknown_roles_are_refused(tmp_path: Path, db: Any) -> None:
    with pytest.raises(CommandError, match="unknown role"):
        run("create", "-f", write(tmp_path, CONNECTOR))
    assert not OidcConnector.objects.exists()


def test_secrets_belong_in_the_environment(tmp_path: Path, db: Any) -> None:
    text = CONNECTOR.replace("display: Example IdP", "client_secret: hunter2")
    with pytest.raises(CommandError, match="ROLEGATE_OIDC_CLIENT_SECRET"):
        run("create", "-f", write(tmp_path, ROLE + "---" + text))


def test_bad_value_pattern_names_the_field(tmp_path: Path, db: Any) -> None:
    text = CONNECTOR.replace("'ops-*'", "'^(ops$'")
    with pytest.raises(CommandError, match=r"claims_to_roles\[1\]\.value"):
        run("create", "-f", write(tmp_path, ROLE + "---" + text))


def test_teleport_kind_name_is_an_alias(tmp_path: Path, db: Any) -> None:
    run("create", "-f", write(tmp_path, ROLE + "---" + CONNECTOR.replace("oidc_connector", "oidc")))
    assert OidcConnector.objects.filter(name="oidc").exists()
