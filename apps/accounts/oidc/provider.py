"""OpenID Connect provider access: lazy discovery, JWKS and ID token validation.

Nothing here runs at start-up: the discovery document is fetched at the first sign-in and
cached, so Rolegate starts (and password sign-in works) while the identity provider is down.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings
from django.core.cache import cache

__all__ = [
    "ID_TOKEN_ALGORITHM",
    "OidcError",
    "OidcUnavailable",
    "ProviderMetadata",
    "fetch_userinfo",
    "oidc_enabled",
    "oidc_setting",
    "provider_metadata",
    "validate_id_token",
]

logger = logging.getLogger("apps.accounts.oidc")

ID_TOKEN_ALGORITHM = "RS256"  # noqa: S105 - an algorithm name, not a secret
HTTP_TIMEOUT = 10
DISCOVERY_TTL = 3600
JWKS_TTL = 3600
_NOT_SET = object()


class OidcError(Exception):
    """A sign-in that is refused; ``reason`` is safe to show to the user and to audit."""

    status = 403

    def __init__(self, reason: str, *, username: str = "") -> None:
        self.reason = reason
        self.username = username
        super().__init__(reason)


class OidcUnavailable(OidcError):
    """The identity provider could not be reached or answered nonsense."""

    status = 503


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the provider's discovery document that Rolegate uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""


def oidc_enabled() -> bool:
    """True when single sign-on is configured (an issuer is set)."""
    return bool(getattr(settings, "ROLEGATE_OIDC_ENABLED", False))


def _issuer() -> str:
    return str(settings.ROLEGATE_OIDC_ISSUER).rstrip("/")


def _cache_key(kind: str, url: str) -> str:
    return f"rolegate:oidc:{kind}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"


def _get_json(url: str, what: str) -> Any:
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
    except requests.RequestException as error:
        logger.warning("OIDC %s fetch from %s failed: %s", what, url, type(error).__name__)
        raise OidcUnavailable(f"the identity provider is unreachable ({what})") from None
    if response.status_code != 200:
        raise OidcUnavailable(
            f"the identity provider answered HTTP {response.status_code} for its {what}"
        )
    try:
        return response.json()
    except ValueError:
        raise OidcUnavailable(f"the identity provider's {what} is not JSON") from None


def _endpoint(document: dict[str, Any], key: str, *, secure: bool, required: bool = True) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise OidcUnavailable(f"the discovery document has no {key}")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise OidcUnavailable(f"the discovery document's {key} is not an http(s) URL")
    if secure and parts.scheme != "https":
        raise OidcUnavailable(f"the discovery document's {key} is not https like the issuer")
    return value


def provider_metadata() -> ProviderMetadata:
    """The configured provider's endpoints, from its discovery document (cached an hour)."""
    if not oidc_enabled():
        raise OidcUnavailable("single sign-on is not configured")
    issuer = _issuer()
    key = _cache_key("discovery", issuer)
    cached = cache.get(key)
    if isinstance(cached, dict):
        return ProviderMetadata(**cached)
    document = _get_json(f"{issuer}/.well-known/openid-configuration", "discovery document")
    if not isinstance(document, dict):
        raise OidcUnavailable("the discovery document is not a JSON object")
    # OpenID Connect Discovery 1.0 §4.3: the issuer in the document must be exactly ours.
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise OidcUnavailable("the discovery document names a different issuer")
    secure = issuer.startswith("https://")
    metadata = ProviderMetadata(
        issuer=str(document["issuer"]),
        authorization_endpoint=_endpoint(document, "authorization_endpoint", secure=secure),
        token_endpoint=_endpoint(document, "token_endpoint", secure=secure),
        jwks_uri=_endpoint(document, "jwks_uri", secure=secure),
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", secure=secure, required=False),
    )
    cache.set(key, asdict(metadata), DISCOVERY_TTL)
    return metadata


def oidc_setting(name: str, default: object = _NOT_SET) -> Any:
    """mozilla-django-oidc's settings, derived from ``ROLEGATE_OIDC_*`` and discovery."""
    fixed: dict[str, Any] = {
        "OIDC_RP_CLIENT_ID": settings.ROLEGATE_OIDC_CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": settings.ROLEGATE_OIDC_CLIENT_SECRET,
        "OIDC_RP_SCOPES": " ".join(settings.ROLEGATE_OIDC_SCOPES),
        "OIDC_RP_SIGN_ALGO": ID_TOKEN_ALGORITHM,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_USE_NONCE": True,
        "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc:callback",
        "OIDC_TIMEOUT": HTTP_TIMEOUT,
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_STORE_ID_TOKEN": False,
        "OIDC_CREATE_USER": True,
        "OIDC_ALLOW_UNSECURED_JWT": False,
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": {},
        "OIDC_REDIRECT_ALLOWED_HOSTS": [],
        "LOGIN_REDIRECT_URL": settings.LOGIN_REDIRECT_URL,
    }
    if name in fixed:
        return fixed[name]
    discovered = {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
        "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
        "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
        "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    }
    if name in discovered:
        return getattr(provider_metadata(), discovered[name])
    if default is not _NOT_SET:
        return getattr(settings, name, default)
    return getattr(settings, name)


def _jwks(jwks_uri: str, *, refresh: bool) -> list[dict[str, Any]]:
    key = _cache_key("jwks", jwks_uri)
    cached = None if refresh else cache.get(key)
    if isinstance(cached, list):
        return cached
    document = _get_json(jwks_uri, "signing keys")
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise OidcUnavailable("the identity provider's JWKS has no keys")
    usable = [k for k in keys if isinstance(k, dict)]
    cache.set(key, usable, JWKS_TTL)
    return usable


def _candidate_keys(keys: list[dict[str, Any]], kid: object) -> list[dict[str, Any]]:
    found = []
    for jwk in keys:
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("alg", ID_TOKEN_ALGORITHM) != ID_TOKEN_ALGORITHM:
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        found.append(jwk)
    # Without a kid the token is only verifiable when the choice is unambiguous.
    return found if kid is not None or len(found) == 1 else []


def _signing_key(token: str, jwks_uri: str) -> jwt.PyJWK:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise OidcError("the ID token is malformed") from None
    if header.get("alg") != ID_TOKEN_ALGORITHM:
        raise OidcError(f"the ID token is signed with {header.get('alg')!r}, not RS256")
    kid = header.get("kid")
    candidates = _candidate_keys(_jwks(jwks_uri, refresh=False), kid)
    if not candidates:
        # The provider may have rotated its keys since we cached them.
        candidates = _candidate_keys(_jwks(jwks_uri, refresh=True), kid)
    if not candidates:
        raise OidcError("the ID token's signing key is not in the provider's JWKS")
    try:
        return jwt.PyJWK(candidates[0], algorithm=ID_TOKEN_ALGORITHM)
    except jwt.PyJWTError:
        raise OidcUnavailable("the identity provider's signing key is unusable") from None


_TOKEN_ERRORS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the ID token has expired"),
    (jwt.InvalidAudienceError, "the ID token is for another client (audience mismatch)"),
    (jwt.InvalidIssuerError, "the ID token comes from another issuer"),
    (jwt.ImmatureSignatureError, "the ID token is not valid yet (issued in the future)"),
    (jwt.InvalidSignatureError, "the ID token's signature is invalid"),
    (jwt.MissingRequiredClaimError, "the ID token lacks a required claim"),
)


def validate_id_token(token: object, *, nonce: str | None) -> dict[str, Any]:
    """Verify an ID token (RS256 signature via JWKS, issuer, audience, expiry, nonce).

    ``ROLEGATE_OIDC_CLOCK_SKEW`` seconds of clock difference are tolerated. Returns the claims.
    """
    if not isinstance(token, str) or not token:
        raise OidcError("the identity provider returned no ID token")
    metadata = provider_metadata()
    client_id = str(settings.ROLEGATE_OIDC_CLIENT_ID)
    key = _signing_key(token, metadata.jwks_uri)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[ID_TOKEN_ALGORITHM],
            audience=client_id,
            issuer=metadata.issuer,
            leeway=int(settings.ROLEGATE_OIDC_CLOCK_SKEW),
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        for error_type, reason in _TOKEN_ERRORS:
            if isinstance(error, error_type):
                raise OidcError(reason) from None
        raise OidcError("the ID token is invalid") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    # OIDC Core §3.1.3.7: with several audiences, azp must name us; when present it must be us.
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != client_id):
        raise OidcError("the ID token was issued to another client (azp mismatch)")
    token_nonce = claims.get("nonce")
    if (
        not nonce
        or not isinstance(token_nonce, str)
        or not hmac.compare_digest(token_nonce.encode(), nonce.encode())
    ):
        raise OidcError("the ID token's nonce does not match this sign-in")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise OidcError("the ID token has no usable subject")
    return claims


def fetch_userinfo(access_token: object, *, subject: str) -> dict[str, Any]:
    """Claims from the userinfo endpoint (empty when the provider has none)."""
    metadata = provider_metadata()
    if not metadata.userinfo_endpoint or not isinstance(access_token, str) or not access_token:
        return {}
    try:
        response = requests.get(
            metadata.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
        )
    except requests.RequestException:
        raise OidcUnavailable("the identity provider is unreachable (userinfo)") from None
    if response.status_code != 200:
        raise OidcUnavailable(f"the userinfo endpoint answered HTTP {response.status_code}")
    try:
        info = response.json()
    except ValueError:
        raise OidcUnavailable("the userinfo response is not JSON") from None
    if not isinstance(info, dict):
        raise OidcUnavailable("the userinfo response is not a JSON object")
    # OIDC Core §5.3.2: userinfo for another subject must not be used.
    if info.get("sub") != subject:
        raise OidcError("the userinfo subject differs from the ID token's")
    return info
