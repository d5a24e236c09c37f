"""CLI test helpers: run `rolegate` as a real process, and a stub Rolegate API over HTTP.

The stub answers the few API calls the credential path makes, counting them, so tests can assert
"no request on a cache hit" or "one issuance for ten parallel calls" without timing guesses.
The end-to-end tests (test_cli_e2e.py) use the real portal and the sandbox instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.resources.conftest import launch_scenario  # noqa: F401 - fixture for the e2e tests

VENV_BIN = Path(sys.executable).parent
ROLEGATE = str(VENV_BIN / "rolegate")
ROLE_ARN = "arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"
APP = "example-app"


def credentials_body(
    lifetime: timedelta = timedelta(hours=1), key: str = "ASIASTUB"
) -> dict[str, Any]:
    """A credential_process document as the API returns it."""
    expiration = (datetime.now(UTC) + lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Version": 1,
        "AccessKeyId": key,
        "SecretAccessKey": "stub-secret",
        "SessionToken": "stub-session-token",
        "Expiration": expiration,
    }


@dataclass
class StubApi:
    """A tiny HTTP server speaking the Rolegate API; `requests` records (method, path)."""

    url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    status: int = 200
    body: Any = None
    delay: float = 0.0
    issued: int = 0
    # When set, GET /api/v1/apps answers these entries, `page_size` at a time with next_cursor
    # (the paginated shape); otherwise the plain list of one app (the older shape).
    apps: list[dict[str, Any]] | None = None
    page_size: int = 2
    lock: threading.Lock = field(default_factory=threading.Lock)

    def credentials_requests(self) -> int:
        """How many credential issuances were asked for."""
        return sum(1 for method, path in self.requests if path.endswith("/credentials"))


def _handler(stub: StubApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _answer(self) -> None:
            with stub.lock:
                stub.requests.append((self.command, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if stub.delay:
                time.sleep(stub.delay)
            if self.path.endswith("/credentials"):
                with stub.lock:
                    stub.issued += 1
                    key = f"ASIASTUB{stub.issued}"
                body = stub.body if stub.body is not None else credentials_body(key=key)
            elif self.path.split("?", 1)[0] == "/api/v1/apps":
                body = _apps_answer(stub, self.path)
            else:
                body = stub.body or {}
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(stub.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _answer
        do_POST = _answer

    return Handler


def _apps_answer(stub: StubApi, path: str) -> Any:
    from urllib.parse import parse_qs, urlsplit

    if stub.apps is None:
        return [{"name": APP, "aws_role_arns": [ROLE_ARN], "region": "us-east-1"}]
    start = int(parse_qs(urlsplit(path).query).get("cursor", ["0"])[0])
    end = start + stub.page_size
    return {
        "items": stub.apps[start:end],
        "next_cursor": str(end) if end < len(stub.apps) else None,
    }


@pytest.fixture
def stub_api() -> Iterator[StubApi]:
    """A running stub API on a free port."""
    stub = StubApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI process: its own ROLEGATE_HOME, HOME and AWS config file."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "ROLEGATE_", "DJANGO_"))
    }
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "ROLEGATE_HOME": str(tmp_path / "home" / ".rolegate"),
            "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws" / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "ROLEGATE_NO_BROWSER": "1",
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    (tmp_path / "home").mkdir()
    return env


def run(
    args: list[str], env: dict[str, str], *, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, capturing text output."""
    return subprocess.run(
        args,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def rolegate(
    args: list[str], env: dict[str, str], *, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `rolegate` console script."""
    return run([ROLEGATE, *args], env, stdin=stdin)


def write_login(
    env: dict[str, str],
    proxy: str,
    *,
    user: str = "alice",
    expires_in: timedelta = timedelta(hours=8),
) -> None:
    """Store a login as `rolegate login` would (the token is whatever the stub accepts)."""
    home = Path(env["ROLEGATE_HOME"])
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    expires = (datetime.now(UTC) + expires_in).isoformat()
    login = {"proxy": proxy, "user": user, "token": "rgt_0123456789ab_stub", "expires_at": expires}
    (home / "login.json").write_text(json.dumps(login))
    (home / "login.json").chmod(0o600)
