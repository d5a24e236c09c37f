"""Step 4 of the reference guide with real processes: a live Rolegate, the sandbox, the CLI, the
AWS CLI and boto3.

`rolegate login` → `apps ls` → `apps login --aws-role …` → `aws --profile APP …` exactly as a
user would run them; nothing is patched. Rolegate (in this test process) reaches the sandbox
through AWS_ENDPOINT_URL, the CLI reaches Rolegate over HTTP, the AWS CLI runs the profile's
credential_process.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.api.models import ApiToken
from apps.audit.models import AuditEvent
from tests.cli.conftest import ROLEGATE, VENV_BIN, rolegate, run
from tests.resources.conftest import LaunchScenario

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery\n"
ISSUED = "aws_credentials.issued"


def _issued(outcome: str = "success") -> int:
    return AuditEvent.objects.filter(event_type=ISSUED, outcome=outcome).count()


@pytest.fixture
def env(cli_env: dict[str, str], launch_scenario: LaunchScenario) -> dict[str, str]:
    """The CLI environment plus the AWS CLI pointed at the sandbox (no static credentials)."""
    cli_env.update(
        {
            "AWS_ENDPOINT_URL": launch_scenario.sandbox.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    return cli_env


def _aws(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([str(VENV_BIN / "aws"), *args], env, timeout=120)


def _login(live_server: Any, env: dict[str, str], user: str = "alice") -> None:
    result = rolegate(["login", "--proxy", live_server.url, "--user", user], env, stdin=PASSWORD)
    assert result.returncode == 0, result.stderr


def test_guide_step_4_from_login_to_the_aws_cli(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    scenario = launch_scenario
    app = scenario.app.name
    config = Path(env["AWS_CONFIG_FILE"])
    config.parent.mkdir()
    config.write_text("# mine\n[default]\nregion = us-east-1\n")

    login = rolegate(["login", "--proxy", live_server.url, "--user", "alice"], env, stdin=PASSWORD)
    assert login.returncode == 0, login.stderr
    assert "Logged in as:   alice" in login.stdout
    assert "example-read-only-access" in login.stdout
    status = rolegate(["status"], env)
    assert status.returncode == 0 and f"Profile URL:   {live_server.url}" in status.stdout

    listing = rolegate(["apps", "ls", "--format", "json"], env)
    assert listing.returncode == 0, listing.stderr
    (entry,) = json.loads(listing.stdout)
    assert entry["name"] == app and entry["aws_role_arns"] == [scenario.role_arn]
    assert entry["integration"] == "aws-prod" and entry["labels"]
    assert entry["account_id"] == scenario.role_arn.split(":")[4]
    table = rolegate(["apps", "ls"], env)
    assert app in table.stdout and scenario.role_arn in table.stdout

    # By role *name*: resolved to the one allowed ARN.
    apps_login = rolegate(["apps", "login", "--aws-role", "ExampleReadOnlyAccess", app], env)
    assert apps_login.returncode == 0, apps_login.stderr
    assert f'Logged into AWS app "{app}".' in apps_login.stdout
    assert scenario.role_arn in apps_login.stdout
    assert f"aws --profile {app} s3 ls" in apps_login.stdout
    assert f"AWS_PROFILE={app} aws s3 ls" in apps_login.stdout
    assert f'profile = "{app}"' in apps_login.stdout
    text = config.read_text()
    assert text.startswith("# mine\n[default]\nregion = us-east-1\n\n")
    assert (
        f"credential_process = {ROLEGATE} aws credentials --proxy {live_server.url} "
        f"--app {app} --aws-role {scenario.role_arn}\n" in text
    )
    assert _issued() == 1  # apps login fetched once, priming the cache

    identity = _aws(["--profile", app, "sts", "get-caller-identity"], env)
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == scenario.console_arn("alice")

    listing_s3 = _aws(["--profile", app, "s3", "ls"], env)
    assert listing_s3.returncode == 0, listing_s3.stderr
    make_bucket = _aws(["--profile", app, "s3", "mb", "s3://rolegate-e2e-denied"], env)
    assert make_bucket.returncode != 0
    assert "AccessDenied" in make_bucket.stderr

    boto = run(
        [
            str(VENV_BIN / "python"),
            "-c",
            f"import boto3; s = boto3.Session(profile_name={app!r}); "
            "print(s.client('sts').get_caller_identity()['Arn'])",
        ],
        env,
    )
    assert boto.returncode == 0, boto.stderr
    assert boto.stdout.strip() == scenario.console_arn("alice")
    # Four AWS tool runs, one issuance: the cache served them all.
    assert _issued() == 1

    assert rolegate(["apps", "logout", app], env).returncode == 0
    assert config.read_text() == "# mine\n[default]\nregion = us-east-1\n"

    assert rolegate(["apps", "login", "--aws-role", scenario.role_arn, app], env).returncode == 0
    logout = rolegate(["logout"], env)
    assert logout.returncode == 0, logout.stderr
    assert f'Removed AWS profile "{app}".' in logout.stdout
    assert config.read_text() == "# mine\n[default]\nregion = us-east-1\n"
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    after = rolegate(["aws", "credentials", "--app", app, "--aws-role", scenario.role_arn], env)
    assert after.returncode == 3 and "run rolegate login" in after.stderr
    assert AuditEvent.objects.filter(event_type="api_token.created").count() == 1
    assert AuditEvent.objects.filter(event_type="api_token.revoked").count() == 1


def test_ten_parallel_credential_calls_cause_one_issuance(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    _login(live_server, env)
    args = ["aws", "credentials", "--app", launch_scenario.app.name]
    args += ["--aws-role", launch_scenario.role_arn]
    barrier = threading.Barrier(10)

    def call(_: int) -> subprocess.CompletedProcess[str]:
        barrier.wait()
        return rolegate(args, env)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(call, range(10)))
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    assert len({json.loads(r.stdout)["AccessKeyId"] for r in results}) == 1
    assert _issued() == 1


def test_bad_inputs_get_clear_errors_and_leave_the_config_untouched(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str]
) -> None:
    scenario = launch_scenario
    app = scenario.app.name
    config = Path(env["AWS_CONFIG_FILE"])
    config.parent.mkdir()
    original = f"[profile {app}-other]\nregion = x\n\n[profile taken]\nregion = y\n"
    config.write_text(original)
    _login(live_server, env)
    other_role = scenario.role_arn.replace("ExampleReadOnlyAccess", "Admin")

    cases = [
        (["apps", "login", "--aws-role", scenario.role_arn, "no-such-app"], 7, "was not found"),
        (["apps", "login", "--aws-role", other_role, app], 6, "not allowed to assume"),
        (["apps", "login", "--aws-role", "Admin", app], 7, "no role named 'Admin'"),
        (["apps", "login", "--aws-role", scenario.role_arn, "bad name!"], 2, "cannot be used"),
        (["apps", "logout", "taken"], 10, "not managed by rolegate"),
        (["aws", "credentials", "--app", app, "--aws-role", other_role], 6, "not allowed"),
        (["aws", "credentials", "--app", "nope", "--aws-role", other_role], 7, "was not found"),
    ]
    for args, code, fragment in cases:
        result = rolegate(args, env)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
        assert config.read_text() == original
    assert _issued() == 0
    assert _issued("denied") == 2  # the two credential requests that reached the server

    # A section rolegate does not manage is refused before anything is issued.
    config.write_text(f"[profile {app}]\nregion = z\n")
    result = rolegate(["apps", "login", "--aws-role", scenario.role_arn, app], env)
    assert result.returncode == 10 and "not managed by rolegate" in result.stderr
    assert config.read_text() == f"[profile {app}]\nregion = z\n"

    config.write_text("region = nowhere\n[default\n")
    result = rolegate(["apps", "login", "--aws-role", scenario.role_arn, app], env)
    assert result.returncode == 10 and "not a valid AWS config file" in result.stderr
    assert config.read_text() == "region = nowhere\n[default\n"
    assert _issued() == 0

    # The server expired the token (e.g. the user's TTL shrank) before the local copy did.
    ApiToken.objects.update(expires_at="2000-01-01T00:00:00Z")
    config.write_text(original)
    for args in (
        ["apps", "login", "--aws-role", scenario.role_arn, app],
        ["aws", "credentials", "--app", app, "--aws-role", scenario.role_arn],
        ["status"],
    ):
        result = rolegate(args, env)
        assert result.returncode == 3, result.stderr
        assert result.stderr.strip().endswith("run rolegate login")
    assert config.read_text() == original

    wrong = rolegate(["login", "--proxy", live_server.url, "--user", "alice"], env, stdin="wrong\n")
    assert wrong.returncode == 6 and "Wrong username or password." in wrong.stderr


def test_device_login_approved_in_the_browser(
    live_server: Any, launch_scenario: LaunchScenario, env: dict[str, str], settings: Any
) -> None:
    settings.ROLEGATE_CLI_DEVICE_INTERVAL = 1
    process = subprocess.Popen(
        [ROLEGATE, "login", "--proxy", live_server.url, "--sso"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first_line = process.stderr.readline()
    url = process.stderr.readline().strip()
    code = re.search(r"code ([A-Z]{4}-[A-Z]{4})", first_line)
    assert code is not None, first_line
    assert url == f"{live_server.url}/cli/approve?code={code.group(1)}"

    browser = Client()
    browser.force_login(launch_scenario.alice)
    page = browser.get(f"/cli/approve?code={code.group(1)}")
    assert page.status_code == 200
    approved = browser.post("/cli/approve", {"code": code.group(1), "decision": "approve"})
    assert approved.status_code == 200
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Logged in as:   alice" in stdout
    assert ApiToken.objects.get().method == "device"
    listing = rolegate(["apps", "ls", "--format", "json"], env)
    assert [a["name"] for a in json.loads(listing.stdout)] == [launch_scenario.app.name]
