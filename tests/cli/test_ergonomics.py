"""What users of aws-vault, Granted and tsh expect (issue 22, item 6), against the stub API.

Role names or nothing instead of ARNs, "did you mean", a quiet `| head`, help with examples,
scheme and plain-http hints, both shapes of the app listing, and a lean cache miss.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import APP, ROLE_ARN, ROLEGATE, StubApi, rolegate, write_login


def _app(name: str, roles: list[str] | None = None) -> dict[str, object]:
    return {"name": name, "aws_role_arns": roles or [ROLE_ARN], "region": "eu-west-1"}


def test_a_role_name_or_no_role_is_resolved_once_then_served_from_the_cache(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    by_name = rolegate(["aws", "credentials", "--app", APP, "--aws-role", "ExampleReadOnlyAccess"],
                       cli_env)  # fmt: skip
    assert by_name.returncode == 0, by_name.stderr
    assert [p.split("?")[0] for _, p in stub_api.requests] == [
        "/api/v1/apps",
        f"/api/v1/apps/{APP}/credentials",
    ]
    for args in (["aws", "credentials", "--app", APP], ["aws", "env", "--app", APP]):
        again = rolegate(args, cli_env)
        assert again.returncode == 0, again.stderr
    assert len(stub_api.requests) == 2  # the app's roles and the credentials came from the cache
    env_lines = rolegate(["aws", "env", "--app", APP], cli_env).stdout
    assert "export AWS_REGION=us-east-1\n" in env_lines


def test_several_roles_without_a_choice_list_them(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    other = ROLE_ARN.replace("ExampleReadOnlyAccess", "Admin")
    stub_api.apps = [_app(APP, [ROLE_ARN, other])]
    write_login(cli_env, stub_api.url)
    result = rolegate(["aws", "credentials", "--app", APP], cli_env)
    assert result.returncode == 2
    assert "offers several roles" in result.stderr and "ExampleReadOnlyAccess, Admin" in (
        result.stderr
    )
    assert stub_api.credentials_requests() == 0


def test_did_you_mean_for_a_mistyped_app_and_role(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    stub_api.apps = [_app(APP), _app("billing"), _app("other-thing")]
    write_login(cli_env, stub_api.url)
    app = rolegate(["aws", "credentials", "--app", "exampel-app"], cli_env)
    assert app.returncode == 7 and f"did you mean {APP}?" in app.stderr, app.stderr
    role = rolegate(["aws", "credentials", "--app", APP, "--aws-role", "ExampleReadOnly"], cli_env)
    assert role.returncode == 7 and "did you mean ExampleReadOnlyAccess?" in role.stderr


def test_the_paginated_listing_is_followed(stub_api: StubApi, cli_env: dict[str, str]) -> None:
    stub_api.apps = [_app(f"app-{index:02d}") for index in range(7)]
    stub_api.page_size = 3
    write_login(cli_env, stub_api.url)
    listing = rolegate(["apps", "ls", "--format", "json"], cli_env)
    assert listing.returncode == 0, listing.stderr
    assert [entry["name"] for entry in json.loads(listing.stdout)] == [
        f"app-{index:02d}" for index in range(7)
    ]
    assert sum(path.startswith("/api/v1/apps?") for _, path in stub_api.requests) == 3


def test_a_closed_pipe_is_a_quiet_exit(stub_api: StubApi, cli_env: dict[str, str]) -> None:
    stub_api.apps = [_app(f"app-{index:04d}") for index in range(3000)]
    stub_api.page_size = 3000
    write_login(cli_env, stub_api.url)
    pipeline = subprocess.run(  # noqa: S602 - the pipe is the point of the test
        f"{ROLEGATE} apps ls | head -n 1",
        shell=True,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert pipeline.stdout.startswith("Application")
    assert pipeline.stderr == ""


@pytest.mark.parametrize(
    ("proxy", "fragment"),
    [
        ("localhost:8000", "did you mean https://localhost:8000 (or http://localhost:8000"),
        ("rolegate.example.com", "did you mean https://rolegate.example.com?"),
        ("http://rolegate.example.com", "--insecure-http"),
    ],
)
def test_proxy_hints(proxy: str, fragment: str, cli_env: dict[str, str]) -> None:
    result = rolegate(["login", "--proxy", proxy, "--user", "alice"], cli_env, stdin="pw\n")
    assert result.returncode == 2
    assert fragment in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1


def test_every_command_has_a_description_and_an_example(cli_env: dict[str, str]) -> None:
    for args in (
        ["login"], ["logout"], ["status"], ["apps", "ls"], ["apps", "login"],
        ["apps", "logout"], ["aws", "credentials"], ["aws", "env"], ["aws", "serve"],
        ["exec"], ["console"], ["completion"],
    ):  # fmt: skip
        shown = rolegate([*args, "--help"], cli_env)
        assert shown.returncode == 0, args
        assert "example:\n  rolegate " in shown.stdout or "example:\n  eval" in shown.stdout, args
    for shell, marker in (("bash", "complete"), ("zsh", "#compdef rolegate")):
        script = rolegate(["completion", shell], cli_env)
        assert script.returncode == 0 and marker in script.stdout


def test_apps_login_refreshes_the_apps_cached_credentials(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    first = rolegate(["aws", "credentials", "--app", APP, "--aws-role", ROLE_ARN], cli_env)
    assert first.returncode == 0
    login = rolegate(["apps", "login", APP], cli_env)
    assert login.returncode == 0, login.stderr
    after = rolegate(["aws", "credentials", "--app", APP, "--aws-role", ROLE_ARN], cli_env)
    assert json.loads(after.stdout)["AccessKeyId"] != json.loads(first.stdout)["AccessKeyId"]
    assert stub_api.credentials_requests() == 2
    assert "region = us-east-1" in Path(cli_env["AWS_CONFIG_FILE"]).read_text()


def test_the_cache_miss_imports_no_third_party_package(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    probe = (
        "import sys; sys.argv = ['rolegate', *sys.argv[1:]]\n"
        "from rolegate.__main__ import main; code = main()\n"
        "import sysconfig; std = sysconfig.get_paths()['stdlib']\n"
        "outside = sorted({m.split('.')[0] for m, mod in list(sys.modules.items())\n"
        "    if getattr(mod, '__file__', None) and not mod.__file__.startswith(std)\n"
        "    and m.split('.')[0] not in ('rolegate', 'awsra') and not m.startswith('_')})\n"
        "print('OUTSIDE', outside, file=sys.stderr); sys.exit(code)"
    )
    miss = subprocess.run(
        [sys.executable, "-c", probe, "aws", "credentials", "--app", APP, "--aws-role", ROLE_ARN],
        env=cli_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert miss.returncode == 0, miss.stderr
    assert "OUTSIDE []" in miss.stderr, miss.stderr
    assert stub_api.credentials_requests() == 1


def test_exec_options_go_before_the_double_dash_in_any_order(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    shown = rolegate(
        ["exec", APP, "--aws-role", ROLE_ARN, "--region", "eu-central-1", "--",
         "sh", "-c", 'echo "$AWS_REGION $ROLEGATE_EXEC_APP"; exit 3'],
        cli_env,
    )  # fmt: skip
    assert shown.returncode == 3, shown.stderr
    assert shown.stdout == f"eu-central-1 {APP}\n"
    # A full ARN and a region: no listing was needed.
    assert [path for _, path in stub_api.requests] == [f"/api/v1/apps/{APP}/credentials"]
