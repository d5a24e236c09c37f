"""`rolegate status` and `apps ls` show grants and their ends; `rolegate request cancel ID`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.access.requests import services as requests
from apps.access.requests.models import AccessRequest
from tests.cli.conftest import cli_env, rolegate  # noqa: F401 - cli_env is a fixture
from tests.resources.conftest import ACCESS_ROLE
from tests.revocation.conftest import KillScenario

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery\n"


def test_status_apps_ls_and_request_cancel(
    live_server: Any,
    kill: KillScenario,
    cli_env: dict[str, str],  # noqa: F811 - fixture
) -> None:
    login = rolegate(
        ["login", "--proxy", live_server.url, "--user", "alice"], cli_env, stdin=PASSWORD
    )
    assert login.returncode == 0, login.stderr
    grant = kill.grant(kill.alice, "30m")
    status = rolegate(["status"], cli_env)
    assert status.returncode == 0, status.stderr
    assert (
        f"Grants:         {ACCESS_ROLE} until {grant.access_ends_at:%Y-%m-%d %H:%M}"
        in status.stdout
    )
    listed = rolegate(["apps", "ls"], cli_env)
    assert f"(granted until {grant.access_ends_at:%Y-%m-%d %H:%M} UTC)" in listed.stdout
    as_json = json.loads(rolegate(["apps", "ls", "--format", "json"], cli_env).stdout)
    assert as_json[0]["grant_ends_at"]

    pending = requests.access_request_create(actor=kill.alice, roles=[ACCESS_ROLE], reason="x")
    cancelled = rolegate(["request", "cancel", pending.id.hex[:8]], cli_env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"Withdrew access request {pending.id.hex[:8]}" in cancelled.stdout
    pending.refresh_from_db()
    assert pending.state == AccessRequest.State.CANCELLED
    again = rolegate(["request", "cancel", str(grant.pk)], cli_env)
    assert again.returncode != 0
    assert "only a pending request can be withdrawn" in again.stderr
