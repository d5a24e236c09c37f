"""The SSO flow end to end against oidc-provider-mock (a real OpenID provider over HTTP)."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import pytest
import requests
from django.contrib.auth import authenticate
from django.urls import Resolver404, resolve

from apps.access.selectors import allowed_aws_roles
from apps.accounts.models import OidcIdentity, User
from apps.audit.models import AuditEvent
from apps.core.policies import policy_of
from apps.core.registry import apply_documents, load_documents
from rbac.decision import AppFacts
from tests.sso.conftest import (
    MockIdp,
    authorize_at_mock,
    configure_sso,
    local_path,
    query_of,
    sso_login,
    start_sso,
)

ACCOUNT = "123456789012"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
READ_ARN = f"arn:aws:iam::{ACCOUNT}:role/ReadOnly"
OTHER_ACCOUNT_ARN = "arn:aws:iam::210987654321:role/Admin"

ROLES = """
kind: role
version: v7
metadata: {name: sso-arns}
spec:
  allow:
    app_labels: {'*': '*'}
    aws_role_arns: ['{{external.aws_role_arns}}']
---
kind: role
version: v7
metadata: {name: aws-admin}
spec:
  allow:
    app_labels: {aws_account_id: '123456789012'}
    aws_role_arns: ['arn:aws:iam::123456789012:role/Admin']
---
kind: role
version: v7
metadata: {name: read-only}
spec:
  allow:
    app_labels: {aws_account_id: '123456789012'}
    aws_role_arns: ['arn:aws:iam::123456789012:role/ReadOnly']
---
kind: oidc_connector
version: v1
metadata: {name: oidc}
spec:
  claims_to_roles:
  - {claim: groups, value: aws-admins, roles: [aws-admin]}
  - {claim: groups, value: 'eng-*', roles: [read-only]}
  - {claim: aws_role_arns, value: '*', roles: [sso-arns]}
"""

APP = AppFacts(
    name="aws-prod",
    labels={"aws_account_id": ACCOUNT, "env": "prod"},
    account_id=ACCOUNT,
    role_arns=frozenset({ADMIN_ARN, READ_ARN}),
)


def new_sub() -> str:
    return f"sub-{uuid.uuid4().hex[:12]}"


def failures(reason_part: str) -> list[AuditEvent]:
    return [
        event
        for event in AuditEvent.objects.filter(event_type="user.signed_in", outcome="denied")
        if event.details.get("method") == "oidc" and reason_part in event.details.get("reason", "")
    ]


@pytest.fixture
def access_setup(sso: MockIdp) -> MockIdp:
    apply_documents(load_documents(ROLES), actor=None)
    return sso


def test_login_creates_user_with_claims_as_external_traits(client: Any, sso: MockIdp) -> None:
    sub = new_sub()
    sso.set_user(
        sub,
        {
            "preferred_username": "alice",
            "email": "alice@example.com",
            "groups": ["eng-platform", "everyone"],
            "aws_role_arns": [ADMIN_ARN],
            "mfa": True,
        },
    )
    response = sso_login(client, sub)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(username="alice")
    assert user.external_traits == {
        "aws_role_arns": [ADMIN_ARN],
        "email": ["alice@example.com"],
        "groups": ["eng-platform", "everyone"],
        "mfa": ["true"],
        "preferred_username": ["alice"],
        "sub": [sub],
    }
    assert user.auth_source == "oidc"
    assert user.email == "alice@example.com"
    assert not user.has_usable_password()
    assert OidcIdentity.objects.get(user=user).subject == sub
    # The session is the SSO user's.
    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.session["_auth_user_backend"] == "apps.accounts.oidc.backend.OidcBackend"
    login = AuditEvent.objects.get(event_type="user.signed_in", actor_name="alice")
    assert login.outcome == "success" and login.details == {"method": "oidc"}
    created = AuditEvent.objects.get(event_type="user.created", target_name="alice")
    assert created.details["before"] is None
    assert created.details["after"]["external_traits"]["groups"] == ["eng-platform", "everyone"]


def test_authorization_request_uses_pkce_nonce_and_state(client: Any, sso: MockIdp) -> None:
    params = query_of(start_sso(client))
    assert params["response_type"] == "code"
    assert params["client_id"] == "rolegate-portal"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["scope"].split() == ["openid", "email", "profile"]
    assert params["redirect_uri"] == "http://testserver/oidc/callback/"
    stored = client.session["oidc_states"][params["state"]]
    assert stored["nonce"] == params["nonce"]
    assert stored["code_verifier"]


def test_traits_are_replaced_at_each_login_and_the_change_is_audited(
    client: Any, sso: MockIdp
) -> None:
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "bea", "groups": ["a", "b"], "team": "x"})
    assert sso_login(client, sub).status_code == 302
    sso.set_user(sub, {"preferred_username": "bea", "groups": ["b"]})
    client.logout()
    assert sso_login(client, sub).status_code == 302
    user = User.objects.get(username="bea")
    assert user.external_traits == {"groups": ["b"], "preferred_username": ["bea"], "sub": [sub]}
    change = AuditEvent.objects.get(event_type="user.sso_updated", target_name="bea")
    assert change.details["before"]["external_traits"]["groups"] == ["a", "b"]
    assert change.details["before"]["external_traits"]["team"] == ["x"]
    assert change.details["after"]["external_traits"]["groups"] == ["b"]
    assert "team" not in change.details["after"]["external_traits"]
    # A third login with identical claims changes nothing and writes no change event.
    client.logout()
    assert sso_login(client, sub).status_code == 302
    assert AuditEvent.objects.filter(event_type="user.sso_updated", target_name="bea").count() == 1
    assert AuditEvent.objects.filter(event_type="user.signed_in", actor_name="bea").count() == 3


def test_claims_allowlist_limits_traits_but_not_role_mapping(
    client: Any, access_setup: MockIdp, settings: Any
) -> None:
    settings.ROLEGATE_OIDC_CLAIMS_ALLOWLIST = ["aws_role_arns"]
    sub = new_sub()
    access_setup.set_user(
        sub,
        {"preferred_username": "cy", "groups": ["aws-admins"], "aws_role_arns": [READ_ARN]},
    )
    assert sso_login(client, sub).status_code == 302
    user = User.objects.get(username="cy")
    assert user.external_traits == {"aws_role_arns": [READ_ARN]}
    assert user.roles == ["aws-admin", "sso-arns"]


def test_external_aws_role_arns_grants_through_the_access_engine(
    client: Any, access_setup: MockIdp
) -> None:
    with_claim, without_claim = new_sub(), new_sub()
    access_setup.set_user(
        with_claim,
        {"preferred_username": "dana", "aws_role_arns": [READ_ARN, OTHER_ACCOUNT_ARN]},
    )
    access_setup.set_user(without_claim, {"preferred_username": "eli", "groups": ["sales"]})
    assert sso_login(client, with_claim).status_code == 302
    client.logout()
    assert sso_login(client, without_claim).status_code == 302
    dana = User.objects.get(username="dana")
    eli = User.objects.get(username="eli")
    assert dana.roles == ["sso-arns"]
    # {{external.aws_role_arns}} expands to the claim; the other account's ARN is not on the app.
    assert allowed_aws_roles(dana, APP) == {READ_ARN}
    assert eli.roles == []
    assert allowed_aws_roles(eli, APP) == set()


def test_group_to_role_mapping_grants_and_revokes(client: Any, access_setup: MockIdp) -> None:
    sub = new_sub()
    access_setup.set_user(sub, {"preferred_username": "finn", "groups": ["aws-admins", "eng-x"]})
    assert sso_login(client, sub).status_code == 302
    finn = User.objects.get(username="finn")
    assert finn.roles == ["aws-admin", "read-only"]
    assert allowed_aws_roles(finn, APP) == {ADMIN_ARN, READ_ARN}

    access_setup.set_user(sub, {"preferred_username": "finn", "groups": ["eng-x"]})
    client.logout()
    assert sso_login(client, sub).status_code == 302
    finn.refresh_from_db()
    assert finn.roles == ["read-only"]
    assert allowed_aws_roles(finn, APP) == {READ_ARN}
    change = AuditEvent.objects.get(event_type="user.sso_updated", target_name="finn")
    assert change.details["before"]["roles"] == ["aws-admin", "read-only"]
    assert change.details["after"]["roles"] == ["read-only"]


def test_mapped_role_deleted_later_is_dropped_and_noted(client: Any, access_setup: MockIdp) -> None:
    from apps.access.models import Role

    Role.objects.filter(name="aws-admin").delete()
    sub = new_sub()
    access_setup.set_user(sub, {"preferred_username": "gus", "groups": ["aws-admins"]})
    assert sso_login(client, sub).status_code == 302
    assert User.objects.get(username="gus").roles == []
    created = AuditEvent.objects.get(event_type="user.created", target_name="gus")
    assert created.details["unknown_roles"] == ["aws-admin"]


def test_username_comes_from_the_configured_claim_sanitized(
    client: Any, sso: MockIdp, settings: Any
) -> None:
    settings.ROLEGATE_OIDC_USERNAME_CLAIM = "login"
    sub = new_sub()
    sso.set_user(sub, {"login": "  José Martín/ops ", "preferred_username": "ignored"})
    assert sso_login(client, sub).status_code == 302
    assert User.objects.filter(username="Jose_Martin_ops").exists()


def test_missing_username_claim_is_refused_and_audited(client: Any, sso: MockIdp) -> None:
    sub = new_sub()
    sso.set_user(sub, {"email": "nobody@example.com"})
    response = sso_login(client, sub)
    assert response.status_code == 403
    assert b"Single sign-on failed" in response.content
    assert "_auth_user_id" not in client.session
    assert failures("no usable 'preferred_username' claim")
    assert not User.objects.exclude(username__in=["operator", "bob"]).exists()


def test_allowed_email_domains(client: Any, sso: MockIdp, settings: Any) -> None:
    settings.ROLEGATE_OIDC_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    good, bad, unverified = new_sub(), new_sub(), new_sub()
    sso.set_user(good, {"preferred_username": "hal", "email": "hal@example.com"})
    sso.set_user(bad, {"preferred_username": "ivy", "email": "ivy@evil.com"})
    sso.set_user(
        unverified,
        {"preferred_username": "jon", "email": "jon@example.com", "email_verified": False},
    )
    assert sso_login(client, good).status_code == 302
    client.logout()
    assert sso_login(client, bad).status_code == 403
    assert sso_login(client, unverified).status_code == 403
    assert set(User.objects.values_list("username", flat=True)) == {"hal"}
    assert failures("e-mail domain 'evil.com' is not allowed")[0].actor_name == "ivy"
    assert failures("is not verified")[0].actor_name == "jon"


def test_subject_binding_survives_a_renamed_username_claim(client: Any, sso: MockIdp) -> None:
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "kim"})
    assert sso_login(client, sub).status_code == 302
    sso.set_user(sub, {"preferred_username": "kimberly"})
    client.logout()
    assert sso_login(client, sub).status_code == 302
    assert list(User.objects.values_list("username", flat=True)) == ["kim"]


def test_another_subject_cannot_take_over_a_username(client: Any, sso: MockIdp) -> None:
    first, second = new_sub(), new_sub()
    sso.set_user(first, {"preferred_username": "lee", "groups": ["mine"]})
    sso.set_user(second, {"preferred_username": "lee", "groups": ["theirs"]})
    assert sso_login(client, first).status_code == 302
    client.logout()
    response = sso_login(client, second)
    assert response.status_code == 403
    assert User.objects.get(username="lee").external_traits["groups"] == ["mine"]
    assert failures("bound to another single sign-on identity")


def test_local_password_account_is_not_taken_over(
    client: Any, sso: MockIdp, make_user: Any
) -> None:
    make_user("root-admin", is_staff=True)
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "root-admin"})
    assert sso_login(client, sub).status_code == 403
    assert failures("belongs to a local account with a password")
    assert not OidcIdentity.objects.exists()


def test_operator_provisioned_user_without_password_is_linked(client: Any, sso: MockIdp) -> None:
    apply_documents(
        load_documents("kind: user\nmetadata: {name: mo}\nspec: {is_staff: true}\n"), actor=None
    )
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "mo"})
    assert sso_login(client, sub).status_code == 302
    mo = User.objects.get(username="mo")
    assert mo.is_staff and mo.auth_source == "oidc"
    assert OidcIdentity.objects.get(subject=sub).user == mo


def test_disabled_user_is_refused(client: Any, sso: MockIdp) -> None:
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "ned", "groups": ["a"]})
    assert sso_login(client, sub).status_code == 302
    User.objects.filter(username="ned").update(is_active=False)
    client.logout()
    sso.set_user(sub, {"preferred_username": "ned", "groups": ["b"]})
    assert sso_login(client, sub).status_code == 403
    assert "_auth_user_id" not in client.session
    assert User.objects.get(username="ned").external_traits["groups"] == ["a"]
    assert failures("the account is disabled")


# --- state ---------------------------------------------------------------------------------


def test_state_mismatch_is_refused(client: Any, sso: MockIdp) -> None:
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "oz"})
    callback = authorize_at_mock(start_sso(client), sub)
    params = query_of(callback)
    response = client.get("/oidc/callback/", {"code": params["code"], "state": "forged-state"})
    assert response.status_code == 400
    assert b"state does not match" in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(username="oz").exists()
    assert failures("state does not match")


def test_callback_from_another_browser_is_refused(client: Any, sso: MockIdp) -> None:
    """Login CSRF: the attacker's own code and state, replayed in the victim's browser."""
    from django.test import Client

    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "attacker"})
    attacker = Client()
    callback = authorize_at_mock(start_sso(attacker), sub)
    response = client.get(local_path(callback))
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_state_works_only_once(client: Any, sso: MockIdp) -> None:
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "pia"})
    callback = local_path(authorize_at_mock(start_sso(client), sub))
    assert client.get(callback).status_code == 302
    client.logout()
    assert client.get(callback).status_code == 400


def test_identity_provider_error_is_refused_and_audited(client: Any, sso: MockIdp) -> None:
    authorization = start_sso(client)
    denied = requests.post(
        authorization, data={"action": "deny"}, allow_redirects=False, timeout=10
    )
    assert denied.status_code == 302
    response = client.get(local_path(denied.headers["Location"]))
    assert response.status_code == 403
    assert failures("returned 'access_denied'")


# --- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "/%2F%2Fevil.com",
        "https:evil.com",
        "https://evil.com/",
        "/\\evil.com",
        "javascript:alert(1)",
        "http://testserver@evil.com/",
    ],
)
def test_no_open_redirect_after_sso_login(client: Any, sso: MockIdp, target: str) -> None:
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "quinn"})
    response = sso_login(client, sub, next_url=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_cli_device_approval_next_survives_the_sso_round_trip(client: Any, sso: MockIdp) -> None:
    """The CLI's browser step: /cli/approve → login page → SSO → back to /cli/approve."""
    approve = "/cli/approve?user_code=WDJB-MJHT"
    sub = new_sub()
    sso.set_user(sub, {"preferred_username": "rae"})
    login_page = client.get("/accounts/login/", {"next": approve})
    assert login_page.status_code == 200
    match = re.search(rb'href="(/oidc/authenticate/\?next=[^"]+)"', login_page.content)
    assert match, "the login page links to SSO with next"
    sso_start = client.get(unescape(match.group(1).decode()))
    assert sso_start.status_code == 302
    callback = authorize_at_mock(sso_start["Location"], sub)
    response = client.get(local_path(callback))
    assert response.status_code == 302
    assert response["Location"] == approve
    try:
        resolve("/cli/approve")
    except Resolver404:
        return  # the device-flow page is not merged yet; the redirect target is what we own
    page = client.get(approve)
    assert not (page.status_code == 302 and "/accounts/login/" in page["Location"])


# --- password sign-in switch, discovery, wiring ------------------------------------------------


def test_password_login_disabled(client: Any, sso: MockIdp, settings: Any, make_user: Any) -> None:
    make_user("local", password="s3cret-password")
    settings.ROLEGATE_PASSWORD_LOGIN = False
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="password"' not in page.content
    assert b"Sign in with SSO" in page.content
    refused = client.post("/accounts/login/", {"username": "local", "password": "s3cret-password"})
    assert refused.status_code == 403
    assert b"Password sign-in is disabled" in refused.content
    assert "_auth_user_id" not in client.session
    # Every authenticate() caller (admin login, the CLI's API login) is refused too.
    assert authenticate(None, username="local", password="s3cret-password") is None
    settings.ROLEGATE_PASSWORD_LOGIN = True
    assert authenticate(None, username="local", password="s3cret-password") is not None


def test_password_login_enabled_shows_both(client: Any, sso: MockIdp) -> None:
    page = client.get("/accounts/login/")
    assert b'name="password"' in page.content and b"Sign in with SSO" in page.content


def test_discovery_is_lazy_and_an_unreachable_provider_is_a_clear_503(
    client: Any, settings: Any, make_user: Any, db: Any
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    configure_sso(settings, f"http://127.0.0.1:{closed_port}")
    make_user("local", password="s3cret-password")
    # Rolegate works without the IdP: the login page renders and passwords still work.
    assert client.get("/accounts/login/").status_code == 200
    signed_in = client.post(
        "/accounts/login/", {"username": "local", "password": "s3cret-password"}
    )
    assert signed_in.status_code == 302
    client.logout()
    response = client.get("/oidc/authenticate/", {"next": "/somewhere"})
    assert response.status_code == 503
    assert b"identity provider is unreachable" in response.content
    assert failures("unreachable")


def test_sso_urls_are_404_when_not_configured(client: Any, db: Any, settings: Any) -> None:
    settings.ROLEGATE_OIDC_ENABLED = False
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/", {"state": "x", "code": "y"}).status_code == 404
    assert b"Sign in with SSO" not in client.get("/accounts/login/").content


def test_sso_views_carry_the_anonymous_policy_and_refuse_post(client: Any, sso: MockIdp) -> None:
    assert policy_of(resolve("/oidc/authenticate/").func) == "anonymous"
    assert policy_of(resolve("/oidc/callback/").func) == "anonymous"
    assert client.post("/oidc/authenticate/").status_code == 405
    assert client.post("/oidc/callback/").status_code == 405
