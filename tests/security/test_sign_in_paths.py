"""Every sign-in path goes through the one throttle and the one audit.

`SIGN_IN_PATHS` lists each way to become signed in (a session or a CLI token). The first test
finds every call in apps/ that authenticates a password, opens a session or mints a token, and
fails when a call site is not accounted for by a path below: a new sign-in path must be added
here, and then the other tests show that it is throttled and audited.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.audit import events
from apps.audit.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
SIGN_IN_CALLS = {"authenticate", "login", "token_create"}


@dataclass(frozen=True)
class SignInPath:
    """How to try one path with a password (or a code) and what its audit rows say."""

    method: str
    attempt: Callable[[str], int]  # password -> HTTP status
    call_sites: tuple[str, ...]  # "module:function" in apps/ that this path covers


def _web(password: str) -> int:
    return Client().post("/accounts/login/", {"username": "bob", "password": password}).status_code


def _admin(password: str) -> int:
    # Django's own admin login view: it calls authenticate() and login() itself.
    response = Client().post(
        "/admin/login/?next=/admin/", {"username": "bob", "password": password}
    )
    return 302 if response.status_code == 302 else 401


def _api(password: str) -> int:
    return (
        Client()
        .post(
            "/api/v1/auth/password",
            {"username": "bob", "password": password},
            content_type="application/json",
        )
        .status_code
    )


SIGN_IN_PATHS = {
    "web form": SignInPath("password", _web, ("apps.accounts.views:login_view",)),
    "django admin": SignInPath("admin", _admin, ()),
    "api password": SignInPath(
        "cli-password", _api, ("apps.api.api:password_login", "apps.api.services:token_create")
    ),
}
# Paths that are not a password check, each with its own test below.
OTHER_PATHS = {
    "device approval and exchange": ("apps.api.services:device_authorization_exchange",),
    "single sign-on": (
        "apps.accounts.oidc.views:OidcCallbackView.get",
        "apps.accounts.oidc.backend:PasswordBackend.authenticate",
    ),
}


def _sign_in_call_sites() -> set[str]:
    found = set()
    for path in (ROOT / "apps").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        tree = ast.parse(path.read_text())
        for scope in ast.walk(tree):
            if not isinstance(scope, ast.FunctionDef):
                continue
            owner = next(
                (
                    node.name
                    for node in ast.walk(tree)
                    if isinstance(node, ast.ClassDef) and scope in node.body
                ),
                None,
            )
            name = f"{owner}.{scope.name}" if owner else scope.name
            for call in ast.walk(scope):
                if isinstance(call, ast.Call):
                    func = call.func
                    called = (
                        func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    )
                    if called in SIGN_IN_CALLS:
                        found.add(f"{module}:{name}")
    return found


def test_every_sign_in_call_site_is_a_known_path() -> None:
    known = {site for p in SIGN_IN_PATHS.values() for site in p.call_sites}
    known |= {site for sites in OTHER_PATHS.values() for site in sites}
    # token_create itself and the sign-in receivers are the shared machinery, not a path.
    found = _sign_in_call_sites() - {"apps.api.services:token_create"}
    assert found - known == set(), "sign-in code outside the enumerated paths"
    assert {s for s in known if s != "apps.api.services:token_create"} - found == set()


def _events(method: str, outcome: str) -> int:
    return AuditEvent.objects.filter(
        event_type__in=events.stored_names(events.USER_SIGNED_IN),
        outcome=outcome,
        details__method=method,
        target_name="bob",
    ).count()


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(SIGN_IN_PATHS))
def test_each_password_path_is_audited_and_throttled(name: str, make_user: Any) -> None:
    """Today the admin login took 30 wrong passwords, then the right one, and audited none."""
    make_user("bob", is_staff=True)
    path = SIGN_IN_PATHS[name]
    assert path.attempt(PASSWORD) in (200, 302)
    assert _events(path.method, "success") == 1
    statuses = [path.attempt("wrong password") for _ in range(5)]
    assert statuses == [401] * 5
    assert _events(path.method, "denied") == 5
    # The right password is refused now, on this path and on every other one.
    assert path.attempt(PASSWORD) in (401, 429)
    for other in SIGN_IN_PATHS.values():
        assert other.attempt(PASSWORD) in (401, 429), other.method
    refused = AuditEvent.objects.filter(
        event_type__in=events.stored_names(events.USER_SIGNED_IN),
        outcome="denied",
        details__reason="throttled",
    )
    assert refused.count() == 1 + len(SIGN_IN_PATHS)


@pytest.mark.django_db
def test_admin_refuses_and_audits_a_non_staff_account(make_user: Any) -> None:
    make_user("bob")
    assert _admin(PASSWORD) == 401
    assert AuditEvent.objects.filter(
        event_type__in=events.stored_names(events.USER_SIGNED_IN),
        outcome="denied",
        details__reason="not a staff account",
    ).exists()


@pytest.mark.django_db
def test_device_approval_is_throttled_and_the_exchange_audited(make_user: Any) -> None:
    from apps.api.services import device_authorization_start

    bob = make_user("bob")
    browser = Client()
    browser.force_login(bob)
    for _ in range(5):
        assert browser.get("/cli/approve", {"code": "BCDF-GHJK"}).status_code == 404
    assert _events("cli-device-approval", "denied") == 5
    started = device_authorization_start(client_name="laptop")
    code = started.authorization.user_code
    refused = browser.post("/cli/approve", {"code": code, "decision": "approve"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # Shared counter: the password sign-in of bob from this address is throttled too.
    assert _web(PASSWORD) == 429


@pytest.mark.django_db
def test_a_device_login_is_audited_as_a_sign_in(make_user: Any) -> None:
    from apps.api.services import (
        device_authorization_decide,
        device_authorization_exchange,
        device_authorization_start,
    )

    bob = make_user("bob")
    started = device_authorization_start(client_name="laptop")
    device_authorization_decide(actor=bob, user_code=started.authorization.user_code, approve=True)
    device_authorization_exchange(device_code=started.device_code)
    assert _events("cli-device", "success") == 1


@pytest.mark.django_db
def test_sso_refusals_count_and_throttle(settings: Any, client: Client) -> None:
    """A run of refused SSO callbacks from one address is throttled like passwords."""
    settings.ROLEGATE_OIDC_ENABLED = True
    settings.ROLEGATE_OIDC_ISSUER = "https://idp.example.test"
    for _ in range(5):
        assert client.get("/oidc/callback/", {"state": "nope", "code": "x"}).status_code == 400
    session = client.session
    session["oidc_states"] = {"s1": {"nonce": "n", "added_on": 9e12}}
    session.save()
    response = client.get("/oidc/callback/", {"state": "s1", "code": "x"})
    assert response.status_code == 429
    assert AuditEvent.objects.filter(
        event_type__in=events.stored_names(events.USER_SIGNED_IN),
        outcome="denied",
        details__method="oidc",
        details__reason="throttled",
    ).exists()
