"""`rolegate request` as a real process against a live Rolegate: create --wait, ls, show.

The CLI polls over HTTP while this test process reviews through the service, exactly as a
reviewer on the web would; nothing is patched. The guide's scenario supplies the app, so the
granted role is checked with `rolegate apps ls` right after approval.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from apps.access.requests import services
from apps.access.requests.models import AccessRequest
from apps.access.services import role_create
from tests.cli.conftest import ROLEGATE, cli_env, rolegate  # noqa: F401 - cli_env is a fixture
from tests.resources.conftest import ACCESS_ROLE, LaunchScenario

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery\n"


@pytest.fixture
def env(cli_env: dict[str, str], launch_scenario: LaunchScenario) -> dict[str, str]:  # noqa: F811
    """CLI environment with fast polling; bob may request the guide's role, carol reviews."""
    role_create(actor=None, name="requester", spec={"allow": {"request": {"roles": ["example-*"]}}})
    role_create(
        actor=None,
        name="guide-approver",
        spec={"allow": {"review_requests": {"roles": ["example-*"]}}},
    )
    bob = launch_scenario.bob
    bob.roles = ["requester"]
    bob.save(update_fields=["roles"])
    from apps.accounts.models import User

    User.objects.create_user(username="carol", password="x", roles=["guide-approver"])
    cli_env["ROLEGATE_REQUEST_POLL_SECONDS"] = "0.2"
    return cli_env


def _wait_for_request(process: subprocess.Popen[str], count: int) -> AccessRequest:
    """The request the CLI process created (it is a separate process: poll the database)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = list(AccessRequest.objects.order_by("created_at"))
        if len(rows) >= count:
            return rows[count - 1]
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the CLI did not create the request")


def _create_waiting(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ROLEGATE, "request", "create", "--roles", ACCESS_ROLE, "--wait", *extra],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_request_create_wait_until_approved_then_use_the_app(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    from apps.accounts.models import User

    carol = User.objects.get(username="carol")
    login = rolegate(["login", "--proxy", live_server.url, "--user", "bob"], env, stdin=PASSWORD)
    assert login.returncode == 0, login.stderr
    before = rolegate(["apps", "ls", "--format", "json"], env)
    assert json.loads(before.stdout) == []

    process = _create_waiting(env, "--reason", "guide step 4", "--duration", "30m")
    created = _wait_for_request(process, 1)
    assert created.requester.username == "bob" and created.reason == "guide step 4"
    assert process.poll() is None  # still waiting for a reviewer
    services.access_request_review(
        actor=carol, request_id=created.pk, decision="approve", comment="go ahead"
    )
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "waiting for reviewers" in stderr
    assert "State:      approved, access until" in stdout
    assert 'approve by carol: "go ahead"' in stdout
    assert "Approved: the roles are yours until" in stdout

    # The granted role works at once for the same CLI login.
    after = rolegate(["apps", "ls", "--format", "json"], env)
    (app,) = json.loads(after.stdout)
    assert app["name"] == launch_scenario.app.name
    assert app["aws_role_arns"] == [launch_scenario.role_arn]

    listing = rolegate(["request", "ls"], env)
    assert listing.returncode == 0, listing.stderr
    assert created.pk.hex[:8] in listing.stdout and "approved" in listing.stdout
    shown = rolegate(["request", "show", created.pk.hex[:8], "--format", "json"], env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["state"] == "approved"
    full = rolegate(["request", "show", str(created.pk)], env)
    assert full.returncode == 0 and "Roles:      example-read-only-access" in full.stdout


def test_denied_unrequestable_and_unknown_requests_exit_with_clear_errors(
    live_server: Any, env: dict[str, str]
) -> None:
    from apps.accounts.models import User

    carol = User.objects.get(username="carol")
    login = rolegate(["login", "--proxy", live_server.url, "--user", "bob"], env, stdin=PASSWORD)
    assert login.returncode == 0, login.stderr

    process = _create_waiting(env)
    created = _wait_for_request(process, 1)
    services.access_request_review(actor=carol, request_id=created.pk, decision="deny")
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 6, (stdout, stderr)
    assert f"rolegate: access request {created.pk.hex[:8]} was denied" in stderr

    refused = rolegate(["request", "create", "--roles", "guide-approver", "--reason", "x"], env)
    assert refused.returncode == 6
    assert "may not request the role(s) guide-approver" in refused.stderr
    too_long = rolegate(["request", "create", "--roles", ACCESS_ROLE, "--duration", "99h"], env)
    assert too_long.returncode == 2 and "at most 8h" in too_long.stderr
    unknown = rolegate(["request", "show", "00000000-0000-0000-0000-000000000000"], env)
    assert unknown.returncode == 7 and "No such access request" in unknown.stderr
    assert rolegate(["request", "show", "zzzz9999"], env).returncode == 7
    assert rolegate(["request", "create", "--roles", " , "], env).returncode == 2
