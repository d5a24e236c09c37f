"""`exec`, `aws serve`, `console` and two portals, end to end: a live Rolegate, the sandbox, the
CLI, the AWS CLI and boto3 as real processes; nothing is patched.

A credential refresh is forced the way time would force it: the cached entry's expiry is moved
close to now (its keys stay real), so the next request through the cache fetches new ones.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.audit.models import AuditEvent
from tests.cli.conftest import ROLEGATE, VENV_BIN, rolegate, run
from tests.cli.test_cli_e2e import PASSWORD, _aws, _issued, _login
from tests.resources.conftest import LaunchScenario

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def env(cli_env: dict[str, str], launch_scenario: LaunchScenario) -> dict[str, str]:
    """The CLI environment plus the AWS tools pointed at the sandbox (no static credentials)."""
    cli_env.update(
        {
            "AWS_ENDPOINT_URL": launch_scenario.sandbox.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    return cli_env


def _age_cache(env: dict[str, str], minutes: float) -> None:
    """Make every cached credential expire `minutes` from now (keys unchanged)."""
    for path in (Path(env["ROLEGATE_HOME"]) / "cache").glob("*.json"):
        if path.name.endswith(".app.json"):
            continue
        entry = json.loads(path.read_text())
        expiry = datetime.now(UTC) + timedelta(minutes=minutes)
        entry["credentials"]["Expiration"] = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        path.write_text(json.dumps(entry))


def _no_profile(env: dict[str, str]) -> dict[str, str]:
    """The environment of a tool that has no profile and no keys: only what serve printed."""
    clean = {k: v for k, v in env.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
    Path(clean["AWS_CONFIG_FILE"]).parent.mkdir(exist_ok=True)
    Path(clean["AWS_CONFIG_FILE"]).write_text("")
    return clean


def test_exec_passes_credentials_and_the_exit_code(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    app = launch_scenario.app.name
    _login(live_server, env)
    env = _no_profile(env)
    env.pop("AWS_REGION")
    env.pop("AWS_DEFAULT_REGION")
    # The role may be omitted: the app offers exactly one.
    identity = run([ROLEGATE, "exec", app, "--", str(VENV_BIN / "aws"), "sts",
                    "get-caller-identity"], env, timeout=120)  # fmt: skip
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == launch_scenario.console_arn("alice")
    shown = run([ROLEGATE, "exec", app, "--aws-role", "ExampleReadOnlyAccess", "--", "sh", "-c",
                 'echo "$AWS_REGION $AWS_DEFAULT_REGION $AWS_CREDENTIAL_EXPIRATION"; exit 7'],
                env)  # fmt: skip
    assert shown.returncode == 7, shown.stderr
    region, default_region, expiration = shown.stdout.split()
    assert region == default_region == "us-east-1"
    assert datetime.fromisoformat(expiration) > datetime.now(UTC)
    assert _issued() == 1  # both runs from one issuance, through the cache

    nested = run([ROLEGATE, "exec", app, "--", ROLEGATE, "exec", "other-app", "--", "true"], env)
    assert nested.returncode == 2, nested.stderr
    assert "already inside `rolegate exec`" in nested.stderr
    same = run([ROLEGATE, "exec", app, "--", ROLEGATE, "exec", app, "--", "true"], env)
    assert same.returncode == 0, same.stderr
    missing = run([ROLEGATE, "exec", app, "--", "no-such-command-here"], env)
    assert missing.returncode == 127 and "command not found" in missing.stderr


def _serve(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [ROLEGATE, "aws", "serve", app],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    exported: dict[str, str] = {}
    while "AWS_DEFAULT_REGION" not in exported:
        line = process.stdout.readline()
        assert line.startswith("export "), (line, process.stderr and process.stderr.read())
        name, _, value = line.removeprefix("export ").strip().partition("=")
        exported[name] = value.strip("'")
    return process, exported


BOTO_SCRIPT = """
import sys, boto3
session = boto3.Session()
sts = session.client("sts")
for step in ("before", "after"):
    arn = sts.get_caller_identity()["Arn"]
    key = session.get_credentials().get_frozen_credentials().access_key
    print(step, arn, key, flush=True)
    if step == "before":
        sys.stdin.readline()  # the test ages the cache here
"""


def test_aws_serve_feeds_boto3_and_the_aws_cli_across_a_refresh(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    app = launch_scenario.app.name
    _login(live_server, env)
    env = _no_profile(env)
    process, exported = _serve(app, env)
    try:
        assert exported["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")
        assert len(exported["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) >= 32
        assert "AWS_ACCESS_KEY_ID" not in exported
        tool_env = {**env, **exported}
        assert _issued() == 1  # serve fetched once up front

        # The AWS CLI, no profile: credentials only through the endpoint.
        first = _aws(["sts", "get-caller-identity"], tool_env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["Arn"] == launch_scenario.console_arn("alice")
        _age_cache(env, minutes=2)  # inside the refresh margin: the next request refreshes
        second = _aws(["sts", "get-caller-identity"], tool_env)
        assert second.returncode == 0, second.stderr
        assert _issued() == 2

        # boto3 in one long-lived session: it sees credentials about to expire (7 minutes
        # left, inside its own refresh window) and asks the endpoint again on the next call;
        # by then the cache has refreshed, so it gets new keys and carries on.
        _age_cache(env, minutes=7)
        boto = subprocess.Popen(
            [str(VENV_BIN / "python"), "-c", BOTO_SCRIPT],
            env=tool_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert boto.stdout is not None and boto.stdin is not None
        before = boto.stdout.readline().split()
        assert before[:2] == ["before", launch_scenario.console_arn("alice")], boto.stderr
        _age_cache(env, minutes=2)
        boto.stdin.write("go\n")
        boto.stdin.flush()
        after = boto.stdout.readline().split()
        assert boto.wait(timeout=60) == 0, boto.stderr and boto.stderr.read()
        assert after[:2] == ["after", launch_scenario.console_arn("alice")]
        assert before[2] != after[2]  # new keys, one session
        assert _issued() == 3

        # Without the token the endpoint gives nothing.
        stranger = _aws(
            ["sts", "get-caller-identity"],
            {**tool_env, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"},
        )
        assert stranger.returncode != 0
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0


def test_console_url_is_accepted_by_the_sandbox(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    from tests.resources.test_launch import _follow_to_sandbox

    app = launch_scenario.app.name
    _login(live_server, env)
    result = rolegate(["console", app, "--url", "--destination", "/s3/home"], env)
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(f"{launch_scenario.sandbox.url}/federation?")
    page = _follow_to_sandbox(url)
    assert launch_scenario.console_arn("alice") in page
    event = AuditEvent.objects.get(event_type="aws_credentials.issued", outcome="success")
    assert event.details["purpose"] == "console"
    assert "/s3/home" in event.details["destination"]
    refused = rolegate(["console", app, "--url", "--destination", "https://evil.example/"], env)
    assert refused.returncode == 2, refused.stderr


def test_two_portals_side_by_side(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    app = launch_scenario.app.name
    first = live_server.url  # http://localhost:PORT
    if "localhost" in first:
        second = first.replace("localhost", "127.0.0.1")
    else:
        second = first.replace("127.0.0.1", "localhost")
    assert first != second
    config = Path(env["AWS_CONFIG_FILE"])
    config.parent.mkdir()
    config.write_text("")
    for proxy, profile in ((first, "one"), (second, "two")):
        login = rolegate(["login", "--proxy", proxy, "--user", "alice"], env, stdin=PASSWORD)
        assert login.returncode == 0, login.stderr
        apps_login = rolegate(["apps", "login", app, "--profile", profile], env)
        assert apps_login.returncode == 0, apps_login.stderr
    text = config.read_text()
    assert f"--proxy {first} --app {app}" in text and f"--proxy {second} --app {app}" in text
    status = rolegate(["status", "--format", "json"], env)
    assert status.returncode == 0, status.stderr
    logins = json.loads(status.stdout)
    assert sorted(entry["proxy"] for entry in logins) == sorted([first, second])
    assert [entry["proxy"] for entry in logins if entry["default"]] == [second]
    assert {entry["state"] for entry in logins} == {"valid"}
    for profile in ("one", "two"):
        identity = _aws(["--profile", profile, "sts", "get-caller-identity"], env)
        assert identity.returncode == 0, identity.stderr
    # ROLEGATE_PROXY picks the default; logging out of one portal leaves the other working.
    picked = rolegate(["apps", "ls", "--format", "json"], {**env, "ROLEGATE_PROXY": first})
    assert picked.returncode == 0, picked.stderr
    logout = rolegate(["logout", "--proxy", first], env)
    assert logout.returncode == 0, logout.stderr
    assert 'Removed AWS profile "one"' in logout.stdout
    assert "[profile one]" not in config.read_text() and "[profile two]" in config.read_text()
    still = _aws(["--profile", "two", "sts", "get-caller-identity"], env)
    assert still.returncode == 0, still.stderr
    gone = rolegate(["aws", "credentials", "--proxy", first, "--app", app], env)
    assert gone.returncode == 3
