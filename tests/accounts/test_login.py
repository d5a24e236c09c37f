"""Sign-in, sign-out, throttling and redirects."""

from __future__ import annotations

from typing import Any

import pytest

from apps.audit.models import AuditEvent


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice", password="s3cret-password")


def test_login_page_renders(client: Any, db: Any) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign in to Rolegate" in response.content
    assert "Content-Security-Policy" in response


def test_login_success_and_audit(client: Any, alice: Any) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "s3cret-password"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert AuditEvent.objects.filter(
        event_type="user.signed_in", outcome="success", actor_name="alice"
    ).exists()


def test_wrong_password(client: Any, alice: Any) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 401
    assert b"Wrong username or password" in response.content


def test_missing_fields_is_400(client: Any, db: Any) -> None:
    assert client.post("/accounts/login/", {"username": ""}).status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "/%2F%2Fevil.com",
        "https:evil.com",
        "https://evil.com/",
        "/\\evil.com",
        "javascript:alert(1)",
    ],
)
def test_no_open_redirect(client: Any, alice: Any, target: str) -> None:
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "s3cret-password", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_local_next_is_kept(client: Any, alice: Any) -> None:
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "s3cret-password", "next": "/audit/?x=1"},
    )
    assert response["Location"] == "/audit/?x=1"


def test_throttle_after_repeated_failures(client: Any, alice: Any) -> None:
    for _ in range(5):
        client.post("/accounts/login/", {"username": "alice", "password": "bad"})
    response = client.post("/accounts/login/", {"username": "alice", "password": "s3cret-password"})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert AuditEvent.objects.filter(
        event_type="user.signed_in", details__reason="throttled"
    ).exists()


def test_logout_is_post_only(client: Any, alice: Any) -> None:
    client.force_login(alice)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_resources_requires_login(client: Any, db: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
