"""SSO fixtures: a real OpenID provider (oidc-provider-mock) on a thread, and a forging one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oidc_provider_mock import run_server_in_thread

from tests.sso.forged_provider import ForgedProvider, forged_provider

CLIENT_ID = "rolegate-portal"
CLIENT_SECRET = "s3cret-client"


@dataclass
class MockIdp:
    """The running oidc-provider-mock and helpers to drive it over HTTP."""

    url: str

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """Define (or redefine) the claims the provider releases for ``sub``."""
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        assert response.status_code == 204, response.text


@pytest.fixture(scope="session")
def mock_idp() -> Iterator[MockIdp]:
    """oidc-provider-mock, requiring a nonce like a strict production provider."""
    with run_server_in_thread(require_nonce=True) as server:
        yield MockIdp(url=f"http://localhost:{server.server_port}")


def configure_sso(settings: Any, issuer: str, **overrides: Any) -> None:
    """Point Rolegate's SSO settings at ``issuer``."""
    values = {
        "ROLEGATE_OIDC_ENABLED": True,
        "ROLEGATE_OIDC_ISSUER": issuer,
        "ROLEGATE_OIDC_CLIENT_ID": CLIENT_ID,
        "ROLEGATE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "ROLEGATE_OIDC_SCOPES": ["openid", "email", "profile"],
        "ROLEGATE_OIDC_USERNAME_CLAIM": "preferred_username",
        "ROLEGATE_OIDC_ALLOWED_EMAIL_DOMAINS": [],
        "ROLEGATE_OIDC_CLAIMS_ALLOWLIST": [],
        "ROLEGATE_OIDC_CLOCK_SKEW": 60,
        "ROLEGATE_OIDC_CONNECTOR": "oidc",
        "ROLEGATE_PASSWORD_LOGIN": True,
    }
    values.update(overrides)
    for name, value in values.items():
        setattr(settings, name, value)


@pytest.fixture
def sso(settings: Any, mock_idp: MockIdp, db: Any) -> MockIdp:
    """SSO configured against oidc-provider-mock."""
    configure_sso(settings, mock_idp.url)
    return mock_idp


@pytest.fixture
def forged(settings: Any, db: Any) -> Iterator[ForgedProvider]:
    """SSO configured against the forging provider."""
    with forged_provider() as provider:
        provider.client_secret = CLIENT_SECRET
        configure_sso(settings, provider.base_url)
        yield provider


def local_path(url: str) -> str:
    """The path and query of an absolute URL (the test client speaks to 'testserver')."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def start_sso(client: Any, next_url: str | None = None) -> str:
    """GET /oidc/authenticate/ and return the provider authorization URL it redirects to."""
    query = {"next": next_url} if next_url is not None else None
    response = client.get("/oidc/authenticate/", query)
    assert response.status_code == 302, response.content[:500]
    return str(response["Location"])


def authorize_at_mock(authorization_url: str, sub: str) -> str:
    """Sign in as ``sub`` at oidc-provider-mock; return the callback URL it redirects to."""
    response = requests.post(
        authorization_url, data={"sub": sub}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 302, response.text[:500]
    return str(response.headers["Location"])


def sso_login(client: Any, sub: str, next_url: str | None = None) -> Any:
    """Run the whole flow against oidc-provider-mock; return the callback's response."""
    callback = authorize_at_mock(start_sso(client, next_url), sub)
    return client.get(local_path(callback))


def forged_login(client: Any, next_url: str | None = None) -> Any:
    """Run the whole flow against the forging provider; return the callback's response."""
    authorization = start_sso(client, next_url)
    response = requests.get(authorization, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    return client.get(local_path(response.headers["Location"]))


def query_of(url: str) -> dict[str, str]:
    """A URL's query as a flat dict."""
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
