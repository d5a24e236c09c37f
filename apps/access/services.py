"""Writes on roles: validate, store the normalized spec, audit with a before/after diff."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.access.models import Role
from apps.accounts.models import User
from apps.audit import events
from apps.audit.services import audit_record
from apps.core.errors import DomainError
from apps.core.hooks import session_revocation
from apps.core.identity import Actor
from rbac.spec import FieldError, RoleSpec, RoleSpecError, parse_role_spec

__all__ = [
    "ROLE_VERSIONS",
    "RoleConflict",
    "RoleExists",
    "RoleInUse",
    "RoleNotFound",
    "role_create",
    "role_delete",
    "role_update",
    "role_validate",
]

ROLE_VERSIONS = ("v5", "v6", "v7")


class RoleExists(DomainError, ValueError):
    """A role with that name exists and `force` was not given."""

    code = "already_exists"
    status = 409


class RoleNotFound(DomainError, LookupError):
    """No role has that name."""

    code = "not_found"
    status = 404


class RoleInUse(DomainError, ValueError):
    """The role is still assigned to users."""

    code = "role_in_use"
    status = 409


class RoleConflict(DomainError, ValueError):
    """Someone else changed the role since the editor loaded it."""

    code = "conflict"
    status = 409


def role_validate(*, name: str, spec: object, version: str = "v7") -> RoleSpec:
    """Validate a role; raises RoleSpecError naming every bad field."""
    errors: list[FieldError] = []
    if version not in ROLE_VERSIONS:
        errors.append(
            FieldError("version", f"{version!r} is not supported ({', '.join(ROLE_VERSIONS)})")
        )
    try:
        parsed = parse_role_spec(name, spec)
    except RoleSpecError as exc:
        raise RoleSpecError([*errors, *exc.errors]) from None
    if errors:
        raise RoleSpecError(errors)
    return parsed


def _diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Top-level changed keys of two spec snapshots, for the audit event."""
    old, new = before or {}, after or {}
    return {
        key: {"before": old.get(key), "after": new.get(key)}
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def _snapshot(role: Role) -> dict[str, Any]:
    return {"version": role.version, "spec": role.spec}


def role_create(
    *, actor: Actor, name: str, spec: object, force: bool = False, version: str = "v7"
) -> Role:
    """Create a role (or with `force` replace an existing one) and audit it."""
    parsed = role_validate(name=name, spec=spec, version=version)
    with transaction.atomic():
        existing = Role.objects.select_for_update().filter(name=name).first()
        if existing is not None:
            if not force:
                raise RoleExists(f"role {name!r} already exists (use --force to replace it)")
            return _store_update(actor=actor, role=existing, parsed=parsed, version=version)
        role = Role.objects.create(name=name, version=version, spec=parsed.to_dict())
        audit_record(
            event_type=events.ROLE_CREATED,
            actor=actor,
            target_kind="role",
            target_name=name,
            details={"before": None, "after": _snapshot(role)},
        )
    return role


def role_update(
    *,
    actor: Actor,
    name: str,
    spec: object,
    version: str | None = None,
    expected_revision: int | None = None,
) -> Role:
    """Replace a role's spec; refuses if `expected_revision` is stale. No-op when unchanged."""
    with transaction.atomic():
        role = Role.objects.select_for_update().filter(name=name).first()
        if role is None:
            raise RoleNotFound(f"role {name!r} not found")
        if expected_revision is not None and role.revision != expected_revision:
            raise RoleConflict(
                f"role {name!r} was changed by someone else (revision {role.revision}); "
                "reload the editor and apply your change again"
            )
        parsed = role_validate(name=name, spec=spec, version=version or role.version)
        return _store_update(actor=actor, role=role, parsed=parsed, version=version or role.version)


def _store_update(*, actor: Actor, role: Role, parsed: RoleSpec, version: str) -> Role:
    before = _snapshot(role)
    new_spec = parsed.to_dict()
    if role.spec == new_spec and role.version == version:
        return role
    holders = _holders_reach(role.name)
    role.spec = new_spec
    role.version = version
    role.revision += 1
    role.save(update_fields=["spec", "version", "revision", "updated_at"])
    after = _snapshot(role)
    audit_record(
        event_type=events.ROLE_UPDATED,
        actor=actor,
        target_kind="role",
        target_name=role.name,
        details={"before": before, "after": after, "changed": _diff(before["spec"], new_spec)},
    )
    _revoke_lost_reach(actor, holders, f"role {role.name!r} changed")
    return role


def _holders_reach(name: str) -> list[tuple[User, set[tuple[int, str]]]]:
    """Each active holder of the role (assigned or granted now) with what they reach now."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apps.access.requests.models import AccessGrant

    revocation = session_revocation()
    if not revocation.in_use():
        return []
    assigned = set(_holders(name))
    granted = set(
        AccessGrant.objects.filter(
            role_name=name, ended_at__isnull=True, ends_at__gt=timezone.now()
        ).values_list("user_id", flat=True)
    )
    if not assigned and not granted:
        return []
    users = get_user_model().objects.filter(is_active=True)
    holders = [u for u in users if u.get_username() in assigned or u.pk in granted]
    return [(user, revocation.reachable(user)) for user in holders]


def _revoke_lost_reach(
    actor: Actor, holders: list[tuple[User, set[tuple[int, str]]]], reason: str
) -> None:
    """After a role change: revoke live sessions on role ARNs a holder no longer reaches."""
    for user, before in holders:
        session_revocation().revoke_lost(actor=actor, user=user, before=before, reason=reason)


def _holders(name: str) -> list[str]:
    from django.contrib.auth import get_user_model

    # JSON containment lookups are not portable to SQLite (the demo), so filter in Python;
    # deleting a role is rare and the user table small next to the work it protects.
    rows = get_user_model().objects.values_list("username", "roles")
    return sorted(str(u) for u, roles in rows if isinstance(roles, list) and name in roles)


def role_delete(*, actor: Actor, name: str) -> None:
    """Delete a role that no user holds, and audit it."""
    with transaction.atomic():
        role = Role.objects.select_for_update().filter(name=name).first()
        if role is None:
            raise RoleNotFound(f"role {name!r} not found")
        holders = _holders(name)
        if holders:
            shown = ", ".join(holders[:5]) + (" ..." if len(holders) > 5 else "")
            raise RoleInUse(
                f"role {name!r} is assigned to {len(holders)} user(s) ({shown}); "
                "remove it from them first"
            )
        before = _snapshot(role)
        # Nobody holds it by assignment, but grants may: their sessions end with the role.
        reach = _holders_reach(name)
        role.delete()
        audit_record(
            event_type=events.ROLE_DELETED,
            actor=actor,
            target_kind="role",
            target_name=name,
            details={"before": before, "after": None},
        )
        _revoke_lost_reach(actor, reach, f"role {name!r} deleted")
