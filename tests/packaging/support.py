"""Helpers for the packaging tests: free ports, waiting for servers, a production environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CA_ENCRYPTION_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
PUBLIC_HOST = "rolegate.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


def http(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> Answer:
    """One request, any status returned (never raised); no redirects followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 - the tests' own http:// URLs
        url, data=body, method=method, headers=headers or {}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def wait_for_http(url: str, process: subprocess.Popen[Any], *, timeout: float = 60) -> None:
    """Poll until the server answers (any status); fail early when the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            http(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing answered at {url} within {timeout:g}s")


def stop(process: subprocess.Popen[Any], *, quick: bool = False) -> None:
    """SIGTERM (SIGINT with `quick`: gunicorn's fast shutdown), then SIGKILL after 15 s."""
    if process.poll() is None:
        if quick:
            process.send_signal(signal.SIGINT)
        else:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def production_environ(secrets_dir: Path, **overrides: str) -> dict[str, str]:
    """A production configuration; secrets come from files, as in a container."""
    secrets_dir.mkdir(parents=True, exist_ok=True)
    secret_key = secrets_dir / "secret_key"
    secret_key.write_text("wheel-test-" + "k" * 10 + os.urandom(24).hex() + "\n")
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(secrets_dir),
        "LANG": "C.UTF-8",
        "ROLEGATE_ENV": "production",
        "SECRET_KEY_FILE": str(secret_key),
        "ROLEGATE_CA_ENCRYPTION_KEY": CA_ENCRYPTION_KEY,
        "ROLEGATE_AUDIT_KEY": "wheel-test:" + "a" * 40,
        "ROLEGATE_PUBLIC_URL": f"https://{PUBLIC_HOST}",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    environ.update(overrides)
    return environ
