"""Response hygiene: JSON API errors for every status, no-store, 413, cookies, var/ modes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.security.conftest import World

ROOT = Path(__file__).resolve().parents[2]


def _assert_json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["code"] == code
    assert response["Cache-Control"] == "no-store"
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_api_errors_are_json_for_every_status(settings: Any, debug: bool) -> None:
    """Today 404/405/413 were HTML (and a 20 MB body a 500 with DEBUG on)."""
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    _assert_json_error(client.get("/api/v1/no-such-endpoint"), 404, "not_found")
    _assert_json_error(client.get("/api/nothing-here"), 404, "not_found")
    wrong_method = client.get("/api/v1/auth/password")
    _assert_json_error(wrong_method, 405, "method_not_allowed")
    assert "POST" in wrong_method["Allow"]
    _assert_json_error(client.get("/api/v1/me"), 401, "not_authenticated")
    big = b'{"username": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    too_large = client.post("/api/v1/auth/password", big, content_type="application/json")
    _assert_json_error(too_large, 413, "request_too_large")
    bad_json = client.post("/api/v1/auth/password", b"{", content_type="application/json")
    assert bad_json.status_code in (400, 422)
    assert set(json.loads(bad_json.content)) >= {"detail", "code"}


@pytest.mark.django_db
def test_web_bodies_over_the_limit_are_413(settings: Any) -> None:
    response = Client().post(
        "/accounts/login/",
        b"x" * (settings.ROLEGATE_MAX_REQUEST_BYTES + 1),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413


@pytest.mark.django_db
def test_secret_bearing_api_answers_are_no_store(world: World) -> None:
    """Tokens (password and device login) and credentials must never sit in a cache."""
    client = Client()
    token = client.post(
        "/api/v1/auth/password",
        {"username": "alice", "password": "correct horse battery"},
        content_type="application/json",
    )
    device = client.post("/api/v1/auth/device", {}, content_type="application/json")
    credentials = client.post(
        f"/api/v1/apps/{world.app_name}/credentials",
        {"role_arn": world.role_arn},
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.api_token('member')}"},
    )
    for response in (token, device, credentials):
        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"


_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({"session": s.SESSION_COOKIE_NAME, "csrf": s.CSRF_COOKIE_NAME,
                  "path": s.SESSION_COOKIE_PATH, "domain": s.SESSION_COOKIE_DOMAIN,
                  "proxy_ssl": s.SECURE_PROXY_SSL_HEADER}))
"""


def _settings_in(environ: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_production_cookies_use_the_host_prefix(tmp_path: Path) -> None:
    from tests.core.test_deploy_checks import production_environ

    values = _settings_in(production_environ(tmp_path))
    assert values["session"].startswith("__Host-")
    assert values["csrf"].startswith("__Host-")
    # __Host- cookies must be path=/ without a Domain, or browsers drop them.
    assert (values["path"], values["domain"]) == ("/", None)
    # No proxy configured: X-Forwarded-Proto is not believed.
    assert values["proxy_ssl"] is None


def test_demo_var_directory_is_private(tmp_path: Path) -> None:
    """The demo's var/ holds session keys and secrets: 0700, its files 0600."""
    var = tmp_path / "var"
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ROLEGATE_", "DATABASE_URL", "SECRET_KEY"))
    }
    environ.update(
        ROLEGATE_ENV="demo", ROLEGATE_VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{var}/db.sqlite3"
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=environ,
        check=True,
        timeout=300,
        capture_output=True,
    )
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    files = [path for path in var.iterdir() if path.is_file()]
    assert {"db.sqlite3", "secret_key", "audit_key", "ca_encryption_key"} <= {p.name for p in files}
    loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert {name: mode for name, mode in loose.items() if mode != "0o600"} == {}
