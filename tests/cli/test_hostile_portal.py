"""Trust nothing sent (issue 22, item 7): a hostile portal started by the test.

Every command that reads the poisoned answer exits 9 ("the proxy answered something that is
not valid"), prints no control character, and leaves the AWS config byte-for-byte unchanged.
The portal is a real HTTP server; the CLI runs as a real process.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import rolegate, write_login

GOOD_ARN = "arn:aws:iam::123456789012:role/ReadOnly"
ESC = "\x1b]0;pwned\x07\x1b[2J"
INJECTED_REGION = "us-east-1\n[default]\ncredential_process = sh -c 'id > /tmp/pwned'"
CONFIG = "# mine\n[default]\nregion = eu-west-1\n\n[profile other]\nregion = us-east-2\n"


def _app(**changes: Any) -> dict[str, Any]:
    app = {
        "name": "dev",
        "account_id": "123456789012",
        "integration": "aws-prod",
        "region": "us-east-1",
        "profile_arn": "",
        "labels": {"env": "dev"},
        "aws_role_arns": [GOOD_ARN],
        "grant_ends_at": None,
    }
    app.update(changes)
    return app


def _credentials(**changes: Any) -> dict[str, Any]:
    document = {
        "Version": 1,
        "AccessKeyId": "ASIAHOSTILE",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    document.update(changes)
    return document


# Each poison: what /apps, /me, the credentials and the console answer.
POISONS: dict[str, dict[str, Any]] = {
    "region injects a section": {"apps": [_app(region=INJECTED_REGION)]},
    "region with an escape": {"apps": [_app(region="us-east-1" + ESC)]},
    "region of another shape": {"apps": [_app(region="us-east-1 ; x")]},
    "name with a newline": {"apps": [_app(name="dev\n[default]")]},
    "name with an escape": {"apps": [_app(name="dev" + ESC)]},
    "role ARN injects a line": {"apps": [_app(aws_role_arns=[GOOD_ARN + "\nregion = x"])]},
    "role ARN of another shape": {"apps": [_app(aws_role_arns=["arn:aws:iam::1:role/x y"])]},
    "label with an escape": {"apps": [_app(labels={"env": ESC})]},
    "paginated, second page poisoned": {
        "pages": [
            {"items": [_app(name="ok")], "next_cursor": "p2"},
            {"items": [_app(name="dev", integration=ESC)], "next_cursor": None},
        ]
    },
    "credentials with a newline": {"credentials": _credentials(AccessKeyId="ASIA\nX=1")},
    "traits with escapes": {"me_traits": {"team": [ESC]}},
}


class Hostile:
    """A fake portal: answers every API call, poisoned as `poison` says."""

    def __init__(self, poison: dict[str, Any]) -> None:
        self.poison = poison
        self.url = ""

    def answer(self, method: str, path: str) -> Any:
        route = path.split("?", 1)[0]
        if route == "/api/v1/auth/password":
            return {
                "username": "alice",
                "token": "rgt_0123456789ab_hostile",
                "expires_at": (datetime.now(UTC) + timedelta(hours=8)).isoformat(),
            }
        if route == "/api/v1/me":
            return {
                "username": "alice",
                "roles": ["dev"],
                "traits": self.poison.get("me_traits", {"team": ["a"]}),
                "grants": [],
                "token_expires_at": (datetime.now(UTC) + timedelta(hours=8)).isoformat(),
            }
        if route == "/api/v1/apps":
            if "pages" in self.poison:
                return self.poison["pages"][1 if "cursor=p2" in path else 0]
            return self.poison.get("apps", [_app()])
        if route.endswith("/credentials"):
            return self.poison.get("credentials", _credentials())
        if route.endswith("/console"):
            return {"url": "https://signin.aws.amazon.com/federation?x=1", "role_arn": GOOD_ARN}
        return {}


@pytest.fixture
def hostile(request: pytest.FixtureRequest) -> Iterator[Hostile]:
    portal = Hostile(POISONS[request.param])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _serve(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = json.dumps(portal.answer(self.command, self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    portal.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield portal
    finally:
        server.shutdown()
        server.server_close()


def _commands(poison: dict[str, Any]) -> list[list[str]]:
    """The commands that read what this poison touches."""
    if "credentials" in poison:
        return [
            ["aws", "credentials", "--app", "dev", "--aws-role", GOOD_ARN],
            ["aws", "env", "--app", "dev", "--aws-role", GOOD_ARN],
            ["exec", "dev", "--aws-role", GOOD_ARN, "--region", "us-east-1", "--", "true"],
            ["apps", "login", "dev", "--aws-role", "ReadOnly"],
        ]
    if "me_traits" in poison:
        return [["status"], ["status", "--format", "json"]]
    return [
        ["apps", "ls"],
        ["apps", "ls", "--format", "json"],
        ["apps", "login", "dev", "--aws-role", "ReadOnly"],
        ["apps", "login", "dev"],
        ["aws", "credentials", "--app", "dev", "--aws-role", "ReadOnly"],
        ["aws", "env", "--app", "dev"],
        ["exec", "dev", "--", "true"],
        ["console", "dev", "--url"],
        ["aws", "serve", "dev"],
    ]


@pytest.mark.parametrize("hostile", sorted(POISONS), indirect=True)
def test_every_command_refuses_a_hostile_portal(hostile: Hostile, cli_env: dict[str, str]) -> None:
    config = Path(cli_env["AWS_CONFIG_FILE"])
    config.parent.mkdir(parents=True)
    config.write_text(CONFIG)
    before = config.read_bytes()
    write_login(cli_env, hostile.url)
    for args in _commands(hostile.poison):
        result = rolegate(args, cli_env)
        assert result.returncode == 9, (args, result.stdout, result.stderr)
        assert "the proxy answered something that is not valid" in result.stderr, args
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        for output in (result.stdout, result.stderr[:-1]):
            assert not any((ord(c) < 32 and c != "\n") or c == "\x7f" for c in output), args
        assert "\x1b" not in result.stdout + result.stderr, args
        assert config.read_bytes() == before, args
    # Nothing poisoned was cached: no credentials; an app entry only from a clean listing.
    cache = Path(cli_env["ROLEGATE_HOME"]) / "cache"
    stored = sorted(p.name for p in cache.glob("*.json")) if cache.is_dir() else []
    clean_listing = "credentials" in hostile.poison
    assert [name for name in stored if not (clean_listing and name.endswith(".app.json"))] == []


@pytest.mark.parametrize("hostile", ["traits with escapes"], indirect=True)
def test_login_refuses_before_reporting_a_hostile_status(
    hostile: Hostile, cli_env: dict[str, str]
) -> None:
    result = rolegate(["login", "--proxy", hostile.url, "--user", "alice"], cli_env, stdin="pw\n")
    assert result.returncode == 9, result.stderr
    assert "\x1b" not in result.stdout + result.stderr


def test_app_names_are_full_matched() -> None:
    from rolegate.awsconfig import check_app_name
    from rolegate.errors import CliError

    for bad in ("myapp\n", "myapp\r", "my app", "-flag", "", "a" * 256, "dév"):
        with pytest.raises(CliError):
            check_app_name(bad)
    check_app_name("my-app.prod@team+1")


def test_a_planted_symlink_does_not_redirect_the_config_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rolegate.awsconfig import AwsConfig

    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-1\n")
    # The old predictable name: a symlink planted there must not take the write.
    planted = tmp_path / f".config.rolegate-{os.getpid()}.tmp"
    planted.symlink_to(victim)
    edited = AwsConfig(config)
    edited.upsert("dev", ["/usr/bin/rolegate", "aws", "credentials"], region="us-east-1")
    assert edited.save()
    assert victim.read_text() == "precious\n"
    assert "[profile dev]" in config.read_text()
    assert list(tmp_path.glob(".config.rolegate-*.tmp")) == [planted]


def test_a_write_that_would_touch_other_sections_is_refused(tmp_path: Path) -> None:
    from rolegate.awsconfig import AwsConfig
    from rolegate.errors import CliError

    config = tmp_path / "config"
    config.write_text(CONFIG)
    edited = AwsConfig(config)
    edited.upsert("dev", ["/usr/bin/rolegate", "aws", "credentials"], region="us-east-1")
    edited.lines.append("[profile evil]\ncredential_process = sh\n")
    with pytest.raises(CliError) as refused:
        edited.save()
    assert refused.value.code == 9
    assert config.read_text() == CONFIG
    with pytest.raises(CliError):
        AwsConfig(config).upsert("dev", ["rolegate"], region=INJECTED_REGION)


def test_lock_and_state_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rolegate import cache, state

    monkeypatch.setenv("ROLEGATE_HOME", str(tmp_path / "home"))
    previous = os.umask(0o022)
    try:
        state.ensure_dir(tmp_path / "home")
        with cache.Lock(tmp_path / "home" / "x.lock", timeout=1):
            pass
        state.write_private(tmp_path / "home" / "x.json", "{}")
    finally:
        os.umask(previous)
    for name in ("x.lock", "x.json"):
        assert stat.S_IMODE((tmp_path / "home" / name).stat().st_mode) == 0o600, name
