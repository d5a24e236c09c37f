"""Tokens, password login and the device flow, over the API and the /cli pages."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from apps.api.models import ApiToken, DeviceAuthorization
from apps.audit.models import AuditEvent
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def _password_login(api: ApiClient, username: str, password: str = PASSWORD) -> Any:
    return api.post("/auth/password", {"username": username, "password": password})


# --- password login and tokens -----------------------------------------------------------------


def test_password_login_returns_a_token_stored_only_as_its_hash(
    api: ApiClient, make_user: Any
) -> None:
    alice = make_user("alice", roles=[])
    response = _password_login(api, "alice")
    assert response.status_code == 200, response.content
    body = response.json()
    token = body["token"]
    assert token.startswith("rgt_") and body["username"] == "alice"
    row = ApiToken.objects.get(user=alice)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # The secret part appears nowhere in the row.
    secret = token.split("_", 2)[2]
    assert all(secret not in str(getattr(row, f.name)) for f in ApiToken._meta.fields)
    created = AuditEvent.objects.get(event_type="api_token.created")
    assert created.actor_name == "alice" and created.details["method"] == "password"
    assert secret not in str(created.details)
    assert AuditEvent.objects.filter(event_type="user.signed_in", outcome="success").exists()


def test_token_expires_with_the_session_ttl(api: ApiClient, make_user: Any, settings: Any) -> None:
    make_user("alice")
    settings.SESSION_COOKIE_AGE = 3600
    before = timezone.now()
    response = _password_login(api, "alice")
    expires = ApiToken.objects.get().expires_at
    # No roles: the access app's default TTL (8h) is capped by the 1h web session age.
    assert before + timedelta(minutes=59) < expires <= timezone.now() + timedelta(hours=1)
    assert response.json()["expires_at"]


def test_token_lifetime_follows_the_roles_max_session_ttl(make_user: Any, settings: Any) -> None:
    from apps.access.services import role_create
    from apps.api.selectors import token_lifetime

    settings.SESSION_COOKIE_AGE = 12 * 3600
    role_create(
        actor=None,
        name="short",
        spec={"allow": {"app_labels": {"*": "*"}}, "options": {"max_session_ttl": "2h"}},
    )
    user = make_user("carol", roles=["short"])
    assert token_lifetime(user) == timedelta(hours=2)


def test_wrong_password_is_401_and_audited(api: ApiClient, make_user: Any) -> None:
    make_user("alice")
    response = _password_login(api, "alice", "nope")
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong username or password.", "code": "bad_credentials"}
    assert not ApiToken.objects.exists()
    refused = AuditEvent.objects.get(event_type="user.signed_in")
    assert refused.outcome == "denied" and refused.details["method"] == "cli-password"


def test_password_login_is_throttled_like_the_web(api: ApiClient, make_user: Any) -> None:
    make_user("alice")
    for _ in range(5):
        assert _password_login(api, "alice", "nope").status_code == 401
    response = _password_login(api, "alice")  # right password, but throttled
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_password_login_can_be_disabled(api: ApiClient, make_user: Any, settings: Any) -> None:
    make_user("alice")
    settings.ROLEGATE_PASSWORD_LOGIN = False
    response = _password_login(api, "alice")
    assert response.status_code == 403
    assert "--sso" in response.json()["detail"]
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        ("{not json", 400, "Cannot parse request body"),
        ('{"username": "alice"}', 422, "password"),
        ('{"username": "", "password": "x"}', 422, "username"),
        ('{"username": ["a"], "password": "x"}', 422, "username"),
        ("[]", 422, "Invalid request"),
    ],
)
def test_bad_bodies_get_clear_4xx(
    api: ApiClient, make_user: Any, raw: str, status: int, fragment: str
) -> None:
    response = api.post("/auth/password", raw=raw)
    assert response.status_code == status
    assert fragment in response.json()["detail"]


def test_me_needs_a_valid_token(api: ApiClient, make_user: Any, token_for: Any) -> None:
    assert api.get("/me").status_code == 401
    assert ApiClient("rgt_0123456789ab_wrong").get("/me").status_code == 401
    assert ApiClient("garbage").get("/me").status_code == 401
    alice = make_user("alice", traits={"logins": ["alice"]})
    alice.external_traits = {"groups": ["ops"]}
    alice.save()
    client = token_for(alice)
    response = client.get("/me")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["traits"] == {"logins": ["alice"], "groups": ["ops"]}
    assert body["roles"] == [] and "token_expires_at" in body
    assert ApiToken.objects.get().last_used_at is not None


def test_expired_revoked_and_inactive_tokens_are_refused(make_user: Any, token_for: Any) -> None:
    alice = make_user("alice")
    client = token_for(alice)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        response = client.get("/me")
    assert response.status_code == 401
    assert "run rolegate login" in response.json()["detail"]
    assert client.get("/me").status_code == 200
    alice.is_active = False
    alice.save()
    assert client.get("/me").status_code == 401
    alice.is_active = True
    alice.save()
    assert client.post("/auth/logout").status_code == 204
    assert client.get("/me").status_code == 401
    revoked = AuditEvent.objects.get(event_type="api_token.revoked")
    assert revoked.actor_name == "alice"


# --- device flow -------------------------------------------------------------------------------


def _start(api: ApiClient) -> dict[str, Any]:
    response = api.post("/auth/device", {"client_name": "rolegate CLI on laptop"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_device_flow_from_start_to_token(api: ApiClient, make_user: Any, settings: Any) -> None:
    settings.ROLEGATE_CLI_DEVICE_INTERVAL = 1
    alice = make_user("alice")
    started = _start(api)
    assert started["verification_uri"] == "http://testserver/cli/approve"
    assert started["verification_uri_complete"].endswith(f"?code={started['user_code']}")
    assert started["interval"] == 1 and started["expires_in"] == 600
    poll = {"device_code": started["device_code"]}
    assert api.post("/auth/device/token", poll).json()["code"] == "authorization_pending"
    assert api.post("/auth/device/token", poll).json()["code"] == "slow_down"

    browser = Client()
    browser.force_login(alice)
    page = browser.get(f"/cli/approve?code={started['user_code'].lower()}")
    assert page.status_code == 200
    assert b"rolegate CLI on laptop" in page.content and b"Approve" in page.content
    done = browser.post("/cli/approve", {"code": started["user_code"], "decision": "approve"})
    assert done.status_code == 200 and b"CLI login approved" in done.content

    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        response = api.post("/auth/device/token", poll)
    assert response.status_code == 200
    token = response.json()["token"]
    assert ApiClient(token).get("/me").json()["username"] == "alice"
    assert ApiToken.objects.get().method == "device"
    # A device code yields one token only.
    again = api.post("/auth/device/token", poll)
    assert again.status_code == 400 and again.json()["code"] == "invalid_grant"
    assert AuditEvent.objects.filter(event_type="cli_device.approved", actor_name="alice").exists()
    assert DeviceAuthorization.objects.get().device_code_hash != started["device_code"]


def test_device_denied_and_expired(api: ApiClient, make_user: Any) -> None:
    alice = make_user("alice")
    browser = Client()
    browser.force_login(alice)
    denied = _start(api)
    response = browser.post("/cli/approve", {"code": denied["user_code"], "decision": "deny"})
    assert b"CLI login denied" in response.content
    poll = api.post("/auth/device/token", {"device_code": denied["device_code"]})
    assert poll.json()["code"] == "access_denied"
    assert AuditEvent.objects.get(event_type="cli_device.denied").outcome == "denied"

    late = _start(api)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        page = browser.get(f"/cli/approve?code={late['user_code']}")
        assert page.status_code == 404 and b"may have expired" in page.content
        refused = browser.post("/cli/approve", {"code": late["user_code"], "decision": "approve"})
        assert refused.status_code == 404
        poll = api.post("/auth/device/token", {"device_code": late["device_code"]})
    assert poll.json()["code"] == "expired_token"
    unknown = api.post("/auth/device/token", {"device_code": "nope"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_grant"


def test_approve_page_personas(api: ApiClient, make_user: Any) -> None:
    started = _start(api)
    anonymous = Client()
    response = anonymous.get(f"/cli/approve?code={started['user_code']}")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = anonymous.post("/cli/approve", {"code": started["user_code"], "decision": "approve"})
    assert response.status_code == 302
    assert DeviceAuthorization.objects.get().status == "pending"

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user("alice"))
    response = browser.post("/cli/approve", {"code": started["user_code"], "decision": "approve"})
    assert response.status_code == 403  # CSRF
    assert DeviceAuthorization.objects.get().status == "pending"

    plain = Client()
    plain.force_login(make_user("bob"))
    assert plain.get("/cli/approve").status_code == 200
    assert plain.get("/cli/approve?code=xx").status_code == 400
    assert plain.post("/cli/approve", {"code": started["user_code"]}).status_code == 400
    assert DeviceAuthorization.objects.get().status == "pending"


# --- the token pages ---------------------------------------------------------------------------


def test_users_list_and_revoke_only_their_own_tokens(make_user: Any, token_for: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    alice_api, bob_api = token_for(alice), token_for(bob)
    alice_token = ApiToken.objects.get(user=alice)
    bob_token = ApiToken.objects.get(user=bob)

    anonymous = Client()
    assert anonymous.get("/cli/tokens").status_code == 302
    assert anonymous.post(f"/cli/tokens/{alice_token.pk}/revoke").status_code == 302

    browser = Client()
    browser.force_login(alice)
    page = browser.get("/cli/tokens")
    assert page.status_code == 200
    assert alice_token.prefix.encode() in page.content
    assert bob_token.prefix.encode() not in page.content
    assert browser.get(f"/cli/tokens/{alice_token.pk}/revoke").status_code == 405
    assert browser.post(f"/cli/tokens/{bob_token.pk}/revoke").status_code == 404
    assert bob_api.get("/me").status_code == 200
    response = browser.post(f"/cli/tokens/{alice_token.pk}/revoke")
    assert response.status_code == 302
    assert alice_api.get("/me").status_code == 401
    event = AuditEvent.objects.get(event_type="api_token.revoked")
    assert event.actor_name == "alice" and event.details["owner"] == "alice"


def test_staff_revoke_tokens_in_the_admin(
    make_user: Any, token_for: Any, staff_client: Client
) -> None:
    alice = make_user("alice")
    alice_api = token_for(alice)
    token = ApiToken.objects.get(user=alice)
    listing = staff_client.get("/admin/api/apitoken/")
    assert listing.status_code == 200 and token.prefix.encode() in listing.content
    assert (
        token.token_hash.encode()
        not in staff_client.get(f"/admin/api/apitoken/{token.pk}/change/").content
    )
    response = staff_client.post(
        "/admin/api/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert alice_api.get("/me").status_code == 401
    event = AuditEvent.objects.get(event_type="api_token.revoked")
    assert event.actor_name == "operator" and event.details["owner"] == "alice"


def test_openapi_document_lists_the_endpoints(api: ApiClient) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/auth/password",
        "/api/v1/auth/device",
        "/api/v1/auth/device/token",
        "/api/v1/me",
        "/api/v1/apps",
        "/api/v1/apps/{name}/credentials",
    ):
        assert path in paths
