"""A second `make demo` set-up keeps what the operator changed (issue 24, item 6): alice's roles
and the guide's role are not overwritten; a new profile in the (persisted) sandbox is synced."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from apps.access.models import Role
from apps.access.services import role_create
from apps.accounts.models import User
from apps.demo import demo
from apps.demo.management.commands.demo import Command as DemoCommand
from sandbox.seed import seed_guide, write_credentials_file
from sandbox.server import Sandbox


@pytest.mark.django_db
def test_second_set_up_keeps_operator_changes(
    sandbox: Sandbox, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in demo.aws_environment(sandbox.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    seeded = seed_guide(sandbox)
    credentials = write_credentials_file(tmp_path / "credentials", seeded["operator"])
    logins = demo.DemoLogins.load(tmp_path / "demo-logins")

    def set_up() -> str:
        command = DemoCommand(stdout=io.StringIO(), stderr=io.StringIO())
        command.set_up(sandbox.url, credentials, logins)
        return str(command.stdout.getvalue())

    set_up()
    alice = User.objects.get(username="alice")
    assert alice.roles == [demo.DEMO_ROLE]
    # The operator changes alice and the guide's role between the runs.
    role_create(actor=None, name="operator-made", spec={"allow": {"app_labels": {"a": "b"}}})
    alice.roles = ["operator-made"]
    alice.save()
    role = Role.objects.get(name=demo.DEMO_ROLE)
    changed_spec = {**role.spec, "options": {"max_session_ttl": "2h"}}
    role.spec = changed_spec
    role.save()

    output = set_up()
    assert f"keeping role/{demo.DEMO_ROLE}, user/alice as they are" in output
    assert User.objects.get(username="alice").roles == ["operator-made"]
    assert Role.objects.get(name=demo.DEMO_ROLE).spec == changed_spec
