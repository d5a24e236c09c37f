"""Web hardening: CSP everywhere and nothing inline, cookie flags, session timeouts, throttling."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client

from tests.core.test_deploy_checks import ROOT, production_environ
from tests.security.conftest import PERSONAS, World
from tests.security.test_url_matrix import ROUTES

TEMPLATE_DIRS = [ROOT / "portal" / "templates", *sorted((ROOT / "apps").glob("**/templates"))]
# An inline script or style element, an inline style attribute, or an event handler attribute.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def _template_files() -> list[Path]:
    files = [path for folder in TEMPLATE_DIRS for path in folder.glob("**/*.html")]
    assert len(files) > 20, "the template scan found too few templates"
    return sorted(files)


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    """CSP forbids inline code; every template keeps scripts and styles in static files.

    A `<script type="application/json">` data island is allowed (it never runs).
    """
    problems = []
    for path in _template_files():
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{path.relative_to(ROOT)}:{number}"
            for match in INLINE_SCRIPT.finditer(line):
                if "application/json" not in match.group(0):
                    problems.append(f"{where}: inline <script>")
            for pattern, what in (
                (INLINE_STYLE_ELEMENT, "inline <style>"),
                (STYLE_ATTRIBUTE, "style= attribute"),
                (HANDLER_ATTRIBUTE, "on*= handler"),
                (JAVASCRIPT_URL, "javascript: URL"),
            ):
                if pattern.search(line):
                    problems.append(f"{where}: {what}")
    assert problems == [], "\n".join(problems)


def _csp_problems(path: str, response: Any) -> list[str]:
    if "text/html" not in response.get("Content-Type", ""):
        return []
    policy = response.get("Content-Security-Policy")
    if not policy:
        return [f"{path}: HTML without a Content-Security-Policy header"]
    directives = {
        part.strip().split(" ")[0]: part.strip() for part in policy.split(";") if part.strip()
    }
    problems = []
    for name in ("script-src", "style-src", "default-src"):
        if "'unsafe-inline'" in directives.get(name, "") or "'unsafe-eval'" in directives.get(
            name, ""
        ):
            problems.append(f"{path}: {name} allows unsafe code: {directives[name]}")
    for required in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        if required not in policy:
            problems.append(f"{path}: CSP lacks {required!r}")
    if response.get("X-Frame-Options") != "DENY":
        problems.append(f"{path}: X-Frame-Options is {response.get('X-Frame-Options')!r}")
    return problems


@pytest.mark.django_db
def test_every_html_response_carries_a_strict_csp(world: World) -> None:
    """Every page of the matrix, for every persona, plus errors and the admin: strict CSP."""
    from django.contrib.auth.models import Permission

    staff = world.users["staff"]
    staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    problems: list[str] = []
    html_pages = 0
    paths = [route.url(world, "staff") for route in ROUTES.values() if route.get is not None]
    paths += [
        "/no-such-page/",
        "/apps/no-such-app/launch",
        "/admin/",
        "/admin/login/",
        "/admin/audit/auditevent/",
        "/admin/access/role/",
        "/api/v1/docs",
    ]
    for persona in PERSONAS:
        client = world.client(persona)
        for path in paths:
            response = client.get(path, follow=False)
            html_pages += "text/html" in response.get("Content-Type", "")
            problems += _csp_problems(f"{path} as {persona}", response)
        htmx = client.get("/", headers={"HX-Request": "true"})
        problems += _csp_problems("/ (htmx) as " + persona, htmx)
    assert html_pages > 100
    assert problems == [], "\n".join(sorted(set(problems)))


# --- production cookie flags ------------------------------------------------------------------

_SETTINGS_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in (
    "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE",
    "SESSION_COOKIE_AGE", "ROLEGATE_SESSION_IDLE_TIMEOUT", "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT", "DEBUG")}))
"""


def test_production_cookies_are_secure_httponly_samesite(tmp_path: Path) -> None:
    """ROLEGATE_ENV=production: Secure, HttpOnly and SameSite cookies, bounded sessions."""
    environ = production_environ(tmp_path, DJANGO_SETTINGS_MODULE="portal.settings")
    result = subprocess.run(
        [sys.executable, "-c", _SETTINGS_PROBE],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_HTTPONLY"] is True
    assert values["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["DEBUG"] is False
    assert 0 < values["SESSION_COOKIE_AGE"] <= 12 * 3600
    assert 0 < values["ROLEGATE_SESSION_IDLE_TIMEOUT"] <= 3600


@pytest.mark.django_db
def test_session_cookie_flags_on_the_wire(settings: Any, plain_user: Any) -> None:
    """The cookie set at sign-in carries HttpOnly and SameSite (and Secure when configured)."""
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client = Client()
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/", {"username": "bob", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["secure"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE


# --- idle and absolute session timeouts ------------------------------------------------------


def _signed_in_client(start: datetime) -> Client:
    client = Client()
    with time_machine.travel(start, tick=False):
        response = client.post(
            "/accounts/login/", {"username": "bob", "password": "correct horse battery"}
        )
        assert response.status_code == 302
        assert client.get("/").status_code == 200
    return client


@pytest.mark.django_db
def test_idle_timeout_ends_the_session(settings: Any, plain_user: Any) -> None:
    """No request for longer than ROLEGATE_SESSION_IDLE_TIMEOUT: signed out."""
    settings.ROLEGATE_SESSION_IDLE_TIMEOUT = 1800
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    client = _signed_in_client(start)
    # Activity inside the window keeps the session alive, step after step.
    for minutes in (20, 40, 60, 80):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get("/").status_code == 200, minutes
    with time_machine.travel(start + timedelta(minutes=80 + 31), tick=False):
        response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_absolute_timeout_ends_an_active_session(settings: Any, plain_user: Any) -> None:
    """Even a session used every few minutes ends SESSION_COOKIE_AGE after sign-in."""
    settings.ROLEGATE_SESSION_IDLE_TIMEOUT = 1800
    settings.SESSION_COOKIE_AGE = 4 * 3600
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    client = _signed_in_client(start)
    moment = start
    while moment < start + timedelta(hours=4) - timedelta(minutes=20):
        moment += timedelta(minutes=20)
        with time_machine.travel(moment, tick=False):
            assert client.get("/").status_code == 200, moment
    with time_machine.travel(start + timedelta(hours=4, minutes=1), tick=False):
        response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- login throttling across the web and the API ----------------------------------------------


def _web_login(password: str) -> int:
    return Client().post("/accounts/login/", {"username": "bob", "password": password}).status_code


def _api_login(password: str) -> int:
    return (
        Client()
        .post(
            "/api/v1/auth/password",
            {"username": "bob", "password": password},
            content_type="application/json",
        )
        .status_code
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fail_with", "then"),
    [(_api_login, _web_login), (_web_login, _api_login), (_api_login, _api_login)],
    ids=["api-then-web", "web-then-api", "api-only"],
)
def test_password_guessing_is_throttled_on_both_channels(
    plain_user: Any, fail_with: Any, then: Any
) -> None:
    """Five wrong passwords on one channel lock the account for that address on both."""
    for _ in range(5):
        assert fail_with("wrong password") == 401
    assert then("correct horse battery") == 429
    assert fail_with("correct horse battery") == 429
