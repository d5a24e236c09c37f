"""ID token validation against a provider that forges bad tokens, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tests.sso.conftest import forged_login
from tests.sso.forged_provider import ForgedProvider


def refusal_reasons() -> list[str]:
    return [
        str(event.details.get("reason"))
        for event in AuditEvent.objects.filter(event_type="user.signed_in", outcome="denied")
        if event.details.get("method") == "oidc"
    ]


def test_the_forging_provider_issues_acceptable_tokens_in_ok_mode(
    client: Any, forged: ForgedProvider
) -> None:
    """Control case: the refusals below come from the forged token, not from the provider."""
    response = forged_login(client, next_url="/after")
    assert response.status_code == 302
    assert response["Location"] == "/after"
    assert User.objects.get(username="mallory").external_traits["email"] == ["m@example.com"]
    assert forged.hits["/token"] == 1


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("wrong_audience", "audience mismatch"),
        ("expired", "has expired"),
        ("bad_signature", "signature is invalid"),
        ("wrong_issuer", "another issuer"),
        ("wrong_nonce", "nonce does not match"),
        ("no_nonce", "nonce does not match"),
        ("alg_hs256", "signed with 'HS256'"),
        ("alg_none", "signed with 'none'"),
        ("unknown_kid", "signing key is not in the provider's JWKS"),
        ("azp_other_client", "azp mismatch"),
        ("issued_in_future_30s", None),  # inside the default 60 s skew: accepted
        ("expired_30s", None),
    ],
)
def test_bad_id_tokens_are_refused(
    client: Any, forged: ForgedProvider, mode: str, reason: str | None
) -> None:
    forged.mode = mode
    response = forged_login(client)
    if reason is None:
        assert response.status_code == 302
        return
    assert response.status_code == 403
    assert b"Single sign-on failed" in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(username="mallory").exists()
    assert any(reason in text for text in refusal_reasons()), refusal_reasons()


@pytest.mark.parametrize("mode", ["expired_30s", "issued_in_future_30s"])
def test_clock_skew_is_configurable(
    client: Any, forged: ForgedProvider, settings: Any, mode: str
) -> None:
    forged.mode = mode
    settings.ROLEGATE_OIDC_CLOCK_SKEW = 0
    assert forged_login(client).status_code == 403
    settings.ROLEGATE_OIDC_CLOCK_SKEW = 45
    assert forged_login(client).status_code == 302


def test_unknown_kid_refetches_keys_once_for_rotation(client: Any, forged: ForgedProvider) -> None:
    assert forged_login(client).status_code == 302
    assert forged.hits["/jwks"] == 1
    client.logout()
    # The provider rotates: new key, new kid. The cached JWKS lacks it, so Rolegate refetches.
    forged.other_key, forged.key = forged.key, forged.other_key
    forged.kid = "forged-2"
    assert forged_login(client).status_code == 302
    assert forged.hits["/jwks"] == 2


def test_discovery_is_fetched_once_and_cached(client: Any, forged: ForgedProvider) -> None:
    assert forged.hits["/.well-known/openid-configuration"] == 0  # nothing at start-up
    assert forged_login(client).status_code == 302
    client.logout()
    assert forged_login(client).status_code == 302
    assert forged.hits["/.well-known/openid-configuration"] == 1
    assert forged.hits["/token"] == 2


def test_discovery_naming_another_issuer_is_refused(client: Any, forged: ForgedProvider) -> None:
    forged.issuer_in_discovery = "https://evil.example"
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 503
    assert b"different issuer" in response.content


def test_pkce_verifier_is_sent_and_checked(client: Any, forged: ForgedProvider) -> None:
    """The provider refuses the code unless the verifier matches the S256 challenge."""
    import requests

    from tests.sso.conftest import local_path, start_sso

    authorization = start_sso(client)
    redirect = requests.get(authorization, allow_redirects=False, timeout=10)
    # Tamper with the stored verifier: the provider must now refuse the exchange.
    session = client.session
    for entry in session["oidc_states"].values():
        entry["code_verifier"] = "x" * 64
    session.save()
    response = client.get(local_path(redirect.headers["Location"]))
    assert response.status_code == 403
    assert any("refused the authorization code (HTTP 400)" in r for r in refusal_reasons())


def test_userinfo_for_another_subject_is_refused(client: Any, forged: ForgedProvider) -> None:
    original = forged.dispatch

    def dispatch(request: Any) -> Any:
        if request.path == "/userinfo":
            from tests.sso.forged_provider import _json

            return _json({"sub": "someone-else", "groups": ["admins"]})
        return original(request)

    forged.dispatch = dispatch  # type: ignore[method-assign]
    assert forged_login(client).status_code == 403
    assert any("userinfo subject differs" in r for r in refusal_reasons())


def test_userinfo_cannot_override_id_token_identity(client: Any, forged: ForgedProvider) -> None:
    original = forged.dispatch

    def dispatch(request: Any) -> Any:
        if request.path == "/userinfo":
            from tests.sso.forged_provider import _json

            return _json(
                {"sub": forged.subject, "preferred_username": "admin", "groups": ["extra"]}
            )
        return original(request)

    forged.dispatch = dispatch  # type: ignore[method-assign]
    assert forged_login(client).status_code == 302
    user = User.objects.get(username="mallory")
    assert user.external_traits["groups"] == ["extra"]
    assert not User.objects.filter(username="admin").exists()
