"""Reads for the API: token lookup, token lists, device requests, token lifetime."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from apps.access.selectors import max_session_ttl
from apps.accounts.models import User
from apps.api.models import ApiToken, AutomationToken, DeviceAuthorization

TOKEN_PREFIX = "rgt_"  # noqa: S105 - the public marker of a token, not a secret
AUTOMATION_TOKEN_PREFIX = "rga_"  # noqa: S105 - the marker of an automation token
PREFIX_LENGTH = 12
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels (no words), no look-alike digits


def hash_secret(value: str) -> str:
    """SHA-256 hex digest of a token or device code, as stored at rest."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def split_token(raw: str, marker: str = TOKEN_PREFIX) -> str | None:
    """Return the lookup prefix of a well-formed token (``marker`` + prefix + secret), or None."""
    if not raw.startswith(marker):
        return None
    body = raw[len(marker) :]
    if len(body) <= PREFIX_LENGTH + 1 or body[PREFIX_LENGTH] != "_":
        return None
    return body[:PREFIX_LENGTH]


def token_authenticate(raw: str) -> ApiToken | None:
    """Return the active token matching `raw` (with its user), or None."""
    prefix = split_token(raw)
    if prefix is None:
        return None
    try:
        # A plain get by the unique prefix: no ORDER BY to compile on every API request.
        token = ApiToken.objects.select_related("user").get(prefix=prefix)
    except ApiToken.DoesNotExist:
        return None
    if not hmac.compare_digest(token.token_hash, hash_secret(raw)):
        return None
    if not token.is_active or not token.user.is_active:
        return None
    return token


def tokens_for_user(user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones included for the record)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def normalize_user_code(value: str) -> str:
    """Upper-case a user code and put the dash back, so `bcdf ghjk` matches `BCDF-GHJK`."""
    letters = "".join(ch for ch in value.upper() if ch.isalnum())
    if len(letters) != 8:
        return letters
    return f"{letters[:4]}-{letters[4:]}"


def device_authorization_pending(user_code: str) -> DeviceAuthorization | None:
    """The pending, unexpired device request with this user code, or None."""
    return (
        DeviceAuthorization.objects.filter(
            user_code=normalize_user_code(user_code),
            status=DeviceAuthorization.Status.PENDING,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )


def token_lifetime(user: User) -> timedelta:
    """How long a new token for `user` lives: the user's max session TTL, capped by the cookie age.

    The access app owns the TTL rule (shortest `max_session_ttl` over the user's roles).
    """
    session_age = timedelta(seconds=int(settings.SESSION_COOKIE_AGE))
    value = max_session_ttl(user)
    ttl = value if isinstance(value, timedelta) else timedelta(seconds=int(value))
    return min(ttl, session_age) if ttl.total_seconds() > 0 else session_age


def automation_token_authenticate(raw: str) -> AutomationToken | None:
    """Return the active automation token matching `raw` (with its owner), or None."""
    prefix = split_token(raw, AUTOMATION_TOKEN_PREFIX)
    if prefix is None:
        return None
    try:
        token = AutomationToken.objects.select_related("owner").get(prefix=prefix)
    except AutomationToken.DoesNotExist:
        return None
    if not hmac.compare_digest(token.token_hash, hash_secret(raw)):
        return None
    if not token.is_active or not token.owner.is_active:
        return None
    return token


def automation_tokens() -> QuerySet[AutomationToken]:
    """Every automation token, by name (revoked and expired ones too, for the record)."""
    return AutomationToken.objects.select_related("owner").order_by("name")
