"""Writes for the API: bearer tokens and device authorization, each audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import signin
from apps.accounts.models import User
from apps.api.models import ApiToken, DeviceAuthorization
from apps.api.selectors import (
    PREFIX_LENGTH,
    TOKEN_PREFIX,
    USER_CODE_ALPHABET,
    hash_secret,
    normalize_user_code,
    token_lifetime,
)
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.context import current_context
from apps.core.errors import DomainError
from apps.core.identity import Actor
from apps.core.ratelimit import RateLimited, rate_limit_hit

DEVICE_CODE_LIFETIME = timedelta(minutes=10)
DEVICE_START_RATE_WINDOW = 60
# Ended tokens stay listed on the user's token page this long before the purge removes them.
PURGE_RETENTION = timedelta(days=1)
# Writing last_used_at on every API call would turn each read into a write; once a minute is
# precise enough for "is this token still in use?".
LAST_USED_RESOLUTION = timedelta(minutes=1)


class DeviceFlowError(DomainError):
    """A device-token poll that yields no token; `code` is the RFC 8628 error name."""

    code = "authorization_pending"
    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class DeviceCodeNotFound(DomainError):
    """No pending device request has this user code (wrong, expired or already decided): 404.

    The approval page catches it to count the refusal like a wrong password and show the message
    on its form (still a 404).
    """

    code = "device_code_not_found"
    status = 404


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: the row and the only copy of the plaintext secret."""

    token: ApiToken
    plaintext: str


@dataclass(frozen=True)
class StartedDeviceAuthorization:
    """A new device request and the device code the CLI polls with (not stored in clear)."""

    authorization: DeviceAuthorization
    device_code: str


def _device_interval() -> int:
    return max(1, int(getattr(settings, "ROLEGATE_CLI_DEVICE_INTERVAL", 5)))


def token_create(*, actor: Actor, user: User, method: str, client_name: str = "") -> IssuedToken:
    """Create a bearer token for `user` expiring with the user's session TTL, and audit it."""
    if method not in ApiToken.Method.values:
        raise ValueError(f"unknown token method {method!r}")
    expires_at = timezone.now() + token_lifetime(user)
    for _attempt in range(5):
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        plaintext = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user,
                    prefix=prefix,
                    token_hash=hash_secret(plaintext),
                    method=method,
                    client_name=client_name[:200],
                    expires_at=expires_at,
                )
                audit_record(
                    event_type=events.API_TOKEN_CREATED,
                    actor=actor,
                    target_kind="api_token",
                    target_name=f"{user.get_username()}/{prefix}",
                    details={
                        "method": method,
                        "client_name": client_name[:200],
                        "expires_at": expires_at,
                    },
                )
            return IssuedToken(token=token, plaintext=plaintext)
        except IntegrityError:
            # A 48-bit prefix collision is astronomically rare; draw again rather than fail.
            continue
    raise RuntimeError("could not allocate a unique token prefix")


def token_revoke(*, actor: Actor, token: ApiToken) -> bool:
    """Revoke a token and audit it; returns False when it was already revoked."""
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if locked.revoked_at is not None:
            return False
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor.get_username() if actor is not None else "system"
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            event_type=events.API_TOKEN_REVOKED,
            actor=actor,
            target_kind="api_token",
            target_name=f"{locked.user.get_username()}/{locked.prefix}",
            details={"owner": locked.user.get_username(), "method": locked.method},
        )
    token.revoked_at = locked.revoked_at
    token.revoked_by = locked.revoked_by
    return True


def token_touch(*, token: ApiToken) -> None:
    """Record that the token was just used (at most once per LAST_USED_RESOLUTION)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def _new_user_code() -> str:
    letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return normalize_user_code(letters)


def device_authorization_rate_check() -> None:
    """Refuse a device-login start over the per-address limit (the first refusal is audited)."""
    client_ip = current_context().client_ip
    decision = rate_limit_hit(
        "device-login-start",
        client_ip or "-",
        limit=int(getattr(settings, "ROLEGATE_DEVICE_LOGIN_RATE_LIMIT", 10)),
        window=DEVICE_START_RATE_WINDOW,
    )
    if not decision.refused:
        return
    if decision.first_refusal:
        # Once per address and window: a flood of refusals must not become a flood of rows.
        audit_record(
            event_type=events.CLI_DEVICE_STARTED,
            actor=None,
            actor_name="(anonymous)",
            outcome=AuditEvent.Outcome.DENIED,
            target_kind="client_address",
            target_name=client_ip or "-",
            details={
                "reason": "rate limited",
                "limit_per_minute": decision.limit,
                "note": "later refusals in this minute are not recorded one by one",
            },
        )
    raise RateLimited(
        f"Too many CLI logins started from this address: at most {decision.limit} a minute. "
        f"Try again in {decision.retry_after} s.",
        retry_after=decision.retry_after,
    )


def device_authorization_start(*, client_name: str = "") -> StartedDeviceAuthorization:
    """Open a device request; the CLI shows its user code and polls with the device code."""
    device_code = secrets.token_urlsafe(32)
    now = timezone.now()
    pending = DeviceAuthorization.objects.filter(
        status=DeviceAuthorization.Status.PENDING, expires_at__gt=now
    )
    user_code = _new_user_code()
    # A user code must name one pending request; with 20^8 codes a retry is almost never needed.
    while pending.filter(user_code=user_code).exists():
        user_code = _new_user_code()
    authorization = DeviceAuthorization.objects.create(
        device_code_hash=hash_secret(device_code),
        user_code=user_code,
        client_name=client_name[:200],
        client_ip=current_context().client_ip,
        interval=_device_interval(),
        created_at=now,
        expires_at=now + DEVICE_CODE_LIFETIME,
    )
    return StartedDeviceAuthorization(authorization=authorization, device_code=device_code)


def device_authorization_decide(
    *, actor: User, user_code: str, approve: bool
) -> DeviceAuthorization:
    """Approve (for `actor`) or deny the pending device request with this user code; audited."""
    with transaction.atomic():
        authorization = (
            DeviceAuthorization.objects.select_for_update()
            .filter(
                user_code=normalize_user_code(user_code),
                status=DeviceAuthorization.Status.PENDING,
                expires_at__gt=timezone.now(),
            )
            .order_by("-created_at")
            .first()
        )
        if authorization is None:
            raise DeviceCodeNotFound(
                "No pending CLI login has this code. It may have expired: run rolegate login again."
            )
        authorization.status = (
            DeviceAuthorization.Status.APPROVED if approve else DeviceAuthorization.Status.DENIED
        )
        authorization.user = actor if approve else None
        authorization.decided_at = timezone.now()
        authorization.save(update_fields=["status", "user", "decided_at"])
        audit_record(
            event_type=events.CLI_DEVICE_APPROVED if approve else events.CLI_DEVICE_DENIED,
            actor=actor,
            outcome=AuditEvent.Outcome.SUCCESS if approve else AuditEvent.Outcome.DENIED,
            target_kind="cli_device",
            target_name=authorization.user_code,
            details={
                "client_name": authorization.client_name,
                "client_ip": authorization.client_ip,
            },
        )
    return authorization


def device_authorization_exchange(*, device_code: str) -> IssuedToken:
    """Trade an approved device code for a token, once; otherwise raise DeviceFlowError."""
    with transaction.atomic():
        authorization = (
            DeviceAuthorization.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(device_code_hash=hash_secret(device_code))
            .first()
        )
        # The poll time must be committed even when the answer is "pending", so the error is
        # raised after the transaction rather than from inside it.
        error = _exchange_refusal(authorization)
        if error is None and authorization is not None and authorization.user is not None:
            user = authorization.user
            authorization.status = DeviceAuthorization.Status.CONSUMED
            authorization.save(update_fields=["status"])
            issued = token_create(
                actor=user,
                user=user,
                method=ApiToken.Method.DEVICE,
                client_name=authorization.client_name,
            )
            signin.sign_in_completed(user=user, method="cli-device")
            return issued
    raise error or DeviceFlowError("access_denied", "The login was not approved.")


def _exchange_refusal(authorization: DeviceAuthorization | None) -> DeviceFlowError | None:
    if authorization is None:
        return DeviceFlowError("invalid_grant", "Unknown device code.")
    status = authorization.status
    if status == DeviceAuthorization.Status.CONSUMED:
        return DeviceFlowError("invalid_grant", "This device code was already used.")
    if status == DeviceAuthorization.Status.DENIED:
        return DeviceFlowError("access_denied", "The login was denied in the browser.")
    if authorization.is_expired:
        return DeviceFlowError("expired_token", "The login code expired; run rolegate login again.")
    if status == DeviceAuthorization.Status.PENDING:
        now = timezone.now()
        too_soon = (
            authorization.last_polled_at is not None
            and (now - authorization.last_polled_at).total_seconds() < authorization.interval * 0.8
        )
        authorization.last_polled_at = now
        authorization.save(update_fields=["last_polled_at"])
        if too_soon:
            return DeviceFlowError("slow_down", "Polling too fast; wait longer between polls.")
        return DeviceFlowError("authorization_pending", "Waiting for approval in the browser.")
    if authorization.user is None or not authorization.user.is_active:
        return DeviceFlowError("access_denied", "The approving account is not active.")
    return None


def cli_logins_purge(*, retention: timedelta = PURGE_RETENTION) -> tuple[int, int]:
    """Delete device-login requests and tokens that ended more than ``retention`` ago.

    Returns (device requests, tokens) deleted; tokens are audited as one summary event (each
    token's creation and revocation are already in the log).
    """
    cutoff = timezone.now() - retention
    with transaction.atomic():
        devices, _ = DeviceAuthorization.objects.filter(expires_at__lt=cutoff).delete()
        ended = ApiToken.objects.filter(expires_at__lt=cutoff) | ApiToken.objects.filter(
            revoked_at__lt=cutoff
        )
        tokens = ended.count()
        if tokens:
            ended.delete()
        if tokens or devices:
            audit_record(
                event_type=events.API_TOKENS_PURGED,
                actor=None,
                target_kind="api_token",
                target_name="expired",
                details={
                    "tokens": tokens,
                    "device_logins": devices,
                    "ended_before": cutoff,
                },
            )
    return devices, tokens
