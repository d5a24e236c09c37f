"""``manage.py create/get/rm`` with good and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import User
from apps.audit.models import AuditEvent

ALICE = """
kind: user
version: v2
metadata:
  name: alice
spec:
  roles: []
  traits:
    aws_role_arns: ["arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"]
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "resources.yaml"
    path.write_text(text)
    return str(path)


def run(*args: str) -> str:
    import io

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_get_rm_round_trip(tmp_path: Path) -> None:
    assert 'user "alice" has been created' in run("create", "-f", write(tmp_path, ALICE))
    user = User.objects.get(username="alice")
    assert user.traits == {
        "aws_role_arns": ["arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"]
    }
    assert not user.has_usable_password()
    document = yaml.safe_load(run("get", "user/alice"))
    assert document["spec"]["traits"] == user.traits
    listed = json.loads(run("get", "user", "--format", "json"))
    assert [item["metadata"]["name"] for item in listed] == ["alice"]
    # What `get` prints can be fed back with --force; an unchanged resource writes nothing.
    before = AuditEvent.objects.count()
    run("create", "--force", "-f", write(tmp_path, yaml.safe_dump(document)))
    assert AuditEvent.objects.count() == before
    assert 'user "alice" has been deleted' in run("rm", "user/alice")
    assert not User.objects.filter(username="alice").exists()
    types = list(AuditEvent.objects.order_by("id").values_list("event_type", flat=True))
    assert types == ["user.created", "user.deleted"]


@pytest.mark.django_db
def test_duplicate_without_force_is_an_error(tmp_path: Path) -> None:
    run("create", "-f", write(tmp_path, ALICE))
    with pytest.raises(CommandError, match="already exists"):
        run("create", "-f", write(tmp_path, ALICE))
    changed = ALICE.replace("traits:", "roles: []\n  traits:").replace(
        "  roles: []\n  roles", "  roles"
    )
    run("create", "--force", "-f", write(tmp_path, ALICE.replace("ExampleReadOnlyAccess", "Other")))
    assert User.objects.get(username="alice").traits["aws_role_arns"] == [
        "arn:aws:iam::123456789012:role/Other"
    ]
    assert changed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: gizmo\nmetadata: {name: x}\n", "unknown kind 'gizmo'"),
        ("kind: user\nversion: v2\nspec: {}\n", "metadata.name: is required"),
        (
            "kind: user\nversion: v2\nmetadata: {name: 42}\n",
            "metadata.name: must be a non-empty string",
        ),
        ("kind: user\nversion: v9\nmetadata: {name: a}\n", "unsupported version 'v9'"),
        (
            "kind: user\nmetadata: {name: a}\nspec: {roles: admin-and-more, traits: [1]}\n",
            "spec.traits: must be a mapping",
        ),
        (
            "kind: user\nmetadata: {name: a}\nspec: {traits: {t: [1, 2]}}\n",
            "spec.traits.t: must be a list of strings",
        ),
        (
            "kind: user\nmetadata: {name: a}\nspec: {colour: red}\n",
            "spec: unknown field(s): colour",
        ),
        ("kind: user\nmetadata: {name: 'bad name'}\n", "metadata.name: 'bad name' must be"),
        ("- just\n- a list\n", "a document must be a mapping"),
        ("kind: user\nmetadata: {name: [unclosed\n", "invalid YAML at line"),
        ("", "no documents found"),
    ],
)
def test_bad_documents(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        run("create", "-f", write(tmp_path, text))
    assert message in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert User.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_bad_document_in_the_middle_writes_nothing(tmp_path: Path) -> None:
    text = (
        ALICE
        + "---\nkind: user\nmetadata: {name: bob}\nspec: {traits: {x: {y: z}}}\n---\n"
        + ALICE.replace("alice", "carol")
    )
    with pytest.raises(CommandError) as caught:
        run("create", "-f", write(tmp_path, text))
    assert "document 2" in str(caught.value)
    assert "spec.traits.x" in str(caught.value)
    assert User.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_get_and_rm_errors() -> None:
    with pytest.raises(CommandError, match="user 'nobody' not found"):
        run("get", "user/nobody")
    with pytest.raises(CommandError, match="unknown kind"):
        run("get", "widget/x")
    with pytest.raises(CommandError, match="give KIND/NAME"):
        run("rm", "user")
    with pytest.raises(CommandError, match="user 'nobody' not found"):
        run("rm", "user/nobody")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        run("create", "-f", str(tmp_path / "missing.yaml"))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CommandError, match="not UTF-8"):
        run("create", "-f", str(binary))
