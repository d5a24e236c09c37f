"""Writes on users and sign-in bookkeeping."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from apps.accounts.models import User
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.hooks import session_revocation, validate_role_names
from apps.core.identity import Actor

log = logging.getLogger(__name__)

LOGIN_FAILURE_LIMIT = 5
LOGIN_FAILURE_WINDOW = 15 * 60
# The cache is Redis in production; when it is down the throttle must neither crash the sign-in
# page nor stop counting, so it falls back to the refusals the audit log already holds.
_CACHE_ERRORS = (RedisError, OSError)


def _failure_key(username: str, client_ip: str | None) -> str:
    return f"rolegate:login-failures:{username.lower()}:{client_ip or '-'}"


def _recent_failures_from_audit(username: str, client_ip: str | None) -> int:
    """Refused sign-ins of this username from this address in the window, from the audit log."""
    since = timezone.now() - timedelta(seconds=LOGIN_FAILURE_WINDOW)
    refusals = AuditEvent.objects.filter(
        event_type__in=events.stored_names(events.USER_SIGNED_IN),
        outcome=AuditEvent.Outcome.DENIED,
        target_name__iexact=username[:150],
        client_ip=client_ip,
        time__gte=since,
    )
    return refusals[:LOGIN_FAILURE_LIMIT].count()


def login_is_throttled(*, username: str, client_ip: str | None) -> bool:
    """True when this username from this address failed too often recently.

    Counted in the cache; if the cache is unreachable, counted from the audit log instead
    (slower, but a Redis outage neither locks everyone out nor lifts the limit).
    """
    try:
        failures = _seeded_failures(_failure_key(username, client_ip), username, client_ip)
    except _CACHE_ERRORS:
        log.warning("login throttle: cache unreachable, counting refusals in the audit log")
        failures = _recent_failures_from_audit(username, client_ip)
    return failures >= LOGIN_FAILURE_LIMIT


def _seeded_failures(key: str, username: str, client_ip: str | None) -> int:
    """The cached failure count; on a miss (a restarted or flushed cache, or the refusals
    counted in the audit log during an outage) it starts from the audit log, not from 0."""
    value = cache.get(key)
    if value is not None:
        return int(value)
    failures = _recent_failures_from_audit(username, client_ip)
    cache.add(key, failures, LOGIN_FAILURE_WINDOW)
    return failures


def login_record_success(*, user: User, method: str = "password") -> None:
    """Audit a successful sign-in and clear the failure counter."""
    from apps.core.context import current_context

    try:
        cache.delete(_failure_key(user.get_username(), current_context().client_ip))
    except _CACHE_ERRORS:
        log.warning("login throttle: cache unreachable, failure counter not cleared")
    audit_record(
        event_type=events.USER_SIGNED_IN,
        actor=user,
        target_kind="user",
        target_name=user.get_username(),
        details={"method": method},
    )


def login_record_failure(*, username: str, reason: str, method: str = "password") -> None:
    """Audit a refused sign-in and count it towards the throttle."""
    from apps.core.context import current_context

    client_ip = current_context().client_ip
    key = _failure_key(username, client_ip)
    try:
        _seeded_failures(key, username, client_ip)  # this refusal's own row is not written yet
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, LOGIN_FAILURE_WINDOW)
    except _CACHE_ERRORS:
        # The audit row below is what the fallback counts, so the refusal still counts.
        log.warning("login throttle: cache unreachable, counting this refusal in the audit log")
    audit_record(
        event_type=events.USER_SIGNED_IN,
        actor=None,
        actor_name=username[:150] or "(blank)",
        outcome=AuditEvent.Outcome.DENIED,
        target_kind="user",
        target_name=username[:150],
        details={"method": method, "reason": reason},
    )


_ACCESS_FIELDS = ("roles", "traits", "is_staff", "is_active")


def _user_snapshot(user: User) -> dict[str, Any]:
    return {
        "roles": list(user.roles),
        "traits": dict(user.traits),
        "is_staff": user.is_staff,
        "email": user.email,
        "is_active": user.is_active,
    }


def user_apply(
    *,
    actor: Actor,
    username: str,
    roles: list[str],
    traits: dict[str, list[str]],
    email: str = "",
    is_staff: bool | None = None,
    force: bool = False,
) -> User:
    """Create a user (or with ``force`` replace its roles and traits) and audit the change."""
    from apps.accounts.usernames import username_problem
    from apps.core.registry import ResourceError, ResourceExists

    problem = username_problem(username)
    if problem:
        raise ResourceError(problem, field="metadata.name")
    validate_role_names(roles)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is not None and not force:
            raise ResourceExists(f"user {username!r} already exists (use --force to replace it)")
        before = _user_snapshot(user) if user else None
        reachable = _revocable(user)
        if user is None:
            user = User(username=username)
            user.set_unusable_password()
        user.roles = sorted(set(roles))
        user.traits = traits
        user.email = email or user.email
        if is_staff is not None:
            user.is_staff = is_staff
        after = _user_snapshot(user)
        if before == after:
            return user
        user.save()
        audit_record(
            event_type=events.USER_CREATED if before is None else events.USER_UPDATED,
            actor=actor,
            target_kind="user",
            target_name=username,
            details={"before": before, "after": after},
        )
        _revoke_lost(actor, user, reachable, "role assignment changed")
    return user


def _revocable(user: User | None) -> set[tuple[int, str]]:
    """What the user reaches now on integrations with session revocation on (the kill switch)."""
    if user is None or user.pk is None or not user.is_active:
        return set()
    return session_revocation().reachable(user)


def _revoke_lost(actor: Actor, user: User, before: set[tuple[int, str]], reason: str) -> None:
    """Revoke the live AWS sessions on roles the change took away (deactivation: all)."""
    if not before:
        return
    session_revocation().revoke_lost(actor=actor, user=user, before=before, reason=reason)


def user_delete(*, actor: Actor, username: str) -> None:
    """Delete a user and audit it."""
    from apps.core.registry import ResourceNotFound

    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            raise ResourceNotFound(f"user {username!r} not found")
        snapshot = _user_snapshot(user)
        reachable = _revocable(user)
        if reachable:
            # Revoked before the row goes: the entries keep the username, not the user.
            user.is_active = False
            _revoke_lost(actor, user, reachable, "user deleted")
        user.delete()
        audit_record(
            event_type=events.USER_DELETED,
            actor=actor,
            target_kind="user",
            target_name=username,
            details={"before": snapshot},
        )


def user_set_password(*, actor: Actor, user: User, password: str) -> None:
    """Set a local password and audit it (never the password itself)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(
            event_type=events.USER_PASSWORD_SET,
            actor=actor,
            target_kind="user",
            target_name=user.get_username(),
        )


def user_save_from_admin(*, actor: Actor, user: User, created: bool) -> None:
    """Save a user edited in the admin and audit what changed (roles, traits, flags)."""
    with transaction.atomic():
        stored = None if created else User.objects.select_for_update().filter(pk=user.pk).first()
        before = _user_snapshot(stored) if stored else None
        reachable = _revocable(stored)
        after = _user_snapshot(user)
        if (
            before is not None
            and getattr(actor, "pk", None) == user.pk
            and not getattr(actor, "is_superuser", False)
            and {k: before[k] for k in _ACCESS_FIELDS} != {k: after[k] for k in _ACCESS_FIELDS}
        ):
            raise PermissionDenied("Only a superuser may change their own roles or staff status.")
        user.save()
        if before == after and not created:
            return
        _revoke_lost(
            actor,
            user,
            reachable,
            "user deactivated" if before and not user.is_active else "role assignment changed",
        )
        audit_record(
            event_type=events.USER_CREATED if created else events.USER_UPDATED,
            actor=actor,
            target_kind="user",
            target_name=user.get_username(),
            details={"before": before, "after": after, "via": "admin"},
        )
