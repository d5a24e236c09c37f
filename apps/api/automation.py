"""Writes on automation tokens: create, revoke, and the audit row of every use."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.api.models import ApiToken, AutomationToken
from apps.api.scopes import SCOPES, capability_for, unknown_scopes
from apps.api.selectors import AUTOMATION_TOKEN_PREFIX, PREFIX_LENGTH, hash_secret
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.capabilities import has_capability
from apps.core.errors import DomainError
from apps.core.identity import Actor

NAME_RE = re.compile(r"[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?\Z", re.ASCII)
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenInvalid(DomainError, ValueError):
    """The token cannot be created as asked; the message says why."""

    code = "invalid"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class IssuedAutomationToken:
    """A new automation token and the only copy of its secret."""

    token: AutomationToken
    plaintext: str


def _owner_lacks(owner: User, scopes: list[str]) -> list[str]:
    return [s for s in scopes if capability_for(s) and not has_capability(owner, capability_for(s))]


def automation_token_create(
    *,
    actor: User | None,
    name: str,
    owner: User,
    scopes: list[str],
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> IssuedAutomationToken:
    """Create a named, scoped token for ``owner`` and audit it (``actor`` None: manage.py).

    An admin on the web creates tokens they own, and only with scopes they hold themselves, so a
    token never carries more than the person who made it; a superuser may name another owner.
    """
    if not NAME_RE.match(name):
        raise TokenInvalid(
            "The name must be 1-64 lowercase letters, digits, '.', '_' or '-', starting and "
            "ending with a letter or digit."
        )
    unknown = unknown_scopes(scopes)
    if unknown:
        raise TokenInvalid(
            f"Unknown scope(s): {', '.join(unknown)} (known: {', '.join(sorted(SCOPES))})."
        )
    if not scopes:
        raise TokenInvalid("Give the token at least one scope.")
    if lifetime <= timedelta(0) or lifetime > MAX_LIFETIME:
        raise TokenInvalid(f"The lifetime must be between 1 day and {MAX_LIFETIME.days} days.")
    if not owner.is_active:
        raise TokenInvalid(f"The owner {owner.get_username()!r} is not an active user.")
    if actor is not None and actor.pk != owner.pk and not actor.is_superuser:
        raise TokenInvalid("Only a superuser may create a token owned by someone else.")
    lacking = _owner_lacks(owner, scopes)
    if lacking:
        raise TokenInvalid(
            f"{owner.get_username()!r} may not do what these scopes allow: {', '.join(lacking)}."
        )
    ordered = sorted(set(scopes))
    expires_at = timezone.now() + lifetime
    for _attempt in range(5):
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        plaintext = f"{AUTOMATION_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                if AutomationToken.objects.filter(name=name).exists():
                    raise TokenInvalid(f"A token named {name!r} already exists.")
                token = AutomationToken.objects.create(
                    name=name,
                    owner=owner,
                    prefix=prefix,
                    token_hash=hash_secret(plaintext),
                    scopes=ordered,
                    created_by=actor.get_username() if actor is not None else "manage.py",
                    expires_at=expires_at,
                )
                audit_record(
                    event_type=events.AUTOMATION_TOKEN_CREATED,
                    actor=actor,
                    target_kind="automation_token",
                    target_name=name,
                    details={
                        "owner": owner.get_username(),
                        "scopes": ordered,
                        "prefix": prefix,
                        "expires_at": expires_at,
                    },
                )
            return IssuedAutomationToken(token=token, plaintext=plaintext)
        except IntegrityError:
            if AutomationToken.objects.filter(name=name).exists():
                raise TokenInvalid(f"A token named {name!r} already exists.") from None
            continue  # a prefix collision: draw again
    raise RuntimeError("could not allocate a unique token prefix")


def automation_token_revoke(*, actor: Actor, token: AutomationToken) -> bool:
    """Revoke an automation token and audit it; False when it was already revoked."""
    with transaction.atomic():
        locked = AutomationToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            return False
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor.get_username() if actor is not None else "manage.py"
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            event_type=events.AUTOMATION_TOKEN_REVOKED,
            actor=actor,
            target_kind="automation_token",
            target_name=locked.name,
            details={"owner_id": locked.owner_id, "scopes": locked.scopes},
        )
    token.revoked_at, token.revoked_by = locked.revoked_at, locked.revoked_by
    return True


def cli_token_refused(*, token: ApiToken, scope: str, method: str, path: str, refusal: str) -> None:
    """Audit a CLI token refused on an admin endpoint (its user lacks the capability)."""
    audit_record(
        event_type=events.API_TOKEN_REFUSED,
        actor=token.user,
        outcome=AuditEvent.Outcome.DENIED,
        target_kind="api_token",
        target_name=f"{token.user.get_username()}/{token.prefix}",
        details={"scope": scope, "method": method, "path": path, "reason": refusal},
    )


def automation_token_used(
    *, token: AutomationToken, scope: str, method: str, path: str, refusal: str = ""
) -> None:
    """Audit one call made with ``token`` (refused ones with outcome denied and the reason)."""
    details: dict[str, Any] = {"token": token.name, "scope": scope, "method": method, "path": path}
    if refusal:
        details["reason"] = refusal
    audit_record(
        event_type=events.AUTOMATION_TOKEN_USED,
        actor=token.owner,
        outcome=AuditEvent.Outcome.DENIED if refusal else AuditEvent.Outcome.SUCCESS,
        target_kind="automation_token",
        target_name=token.name,
        details=details,
    )
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        AutomationToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
