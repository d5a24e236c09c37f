"""Changing a user's roles and internal traits: the one write path of the portal's Users page and
the admin API, each change audited with a before/after diff.

Rules, enforced here rather than in each caller:
- the actor holds the access-admin capability (apps/core/capabilities.py);
- nobody but a superuser changes their own roles or traits (nobody widens their own access);
- role names must name existing roles; trait names use letters, digits, ``_ - . :`` and every
  value is a non-empty string (external traits come from the identity provider and are never
  edited here);
- an unchanged value writes nothing and audits nothing; a change that takes access away revokes
  the live AWS sessions it covered (integrations with session revocation on), as every other
  role change does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from apps.accounts.models import User
from apps.audit import events
from apps.audit.services import audit_record
from apps.core.capabilities import ACCESS_ADMIN, has_capability
from apps.core.errors import DomainError
from apps.core.hooks import validate_role_names
from apps.core.identity import Actor
from apps.core.registry import ResourceError

TRAIT_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")
MAX_TRAITS = 100
MAX_TRAIT_NAME = 100
MAX_TRAIT_VALUES = 100
MAX_TRAIT_VALUE = 1024
MAX_ROLES = 200


class UserChangeInvalid(DomainError, ValueError):
    """Input that cannot be applied: ``message`` is for people, ``field`` names what is wrong."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _check_actor(actor: Actor, user: User) -> None:
    if not has_capability(actor, ACCESS_ADMIN):
        raise PermissionDenied(
            "Changing a user's roles or traits needs the access admin capability."
        )
    if getattr(actor, "pk", None) == user.pk and not getattr(actor, "is_superuser", False):
        raise PermissionDenied(
            "You may not change your own roles or traits; ask another access admin."
        )


def clean_roles(roles: Iterable[Any]) -> list[str]:
    """Sorted, de-duplicated role names that all exist; raise UserChangeInvalid otherwise."""
    names: list[str] = []
    for name in roles:
        if not isinstance(name, str) or not name.strip():
            raise UserChangeInvalid("Role names must be non-empty strings.", field="roles")
        names.append(name.strip())
    if len(set(names)) > MAX_ROLES:
        raise UserChangeInvalid(f"A user holds at most {MAX_ROLES} roles.", field="roles")
    cleaned = sorted(set(names))
    try:
        validate_role_names(cleaned)
    except ResourceError as error:
        raise UserChangeInvalid(
            error.reason[:1].upper() + error.reason[1:], field="roles"
        ) from None
    return cleaned


def clean_traits(traits: Mapping[Any, Any]) -> dict[str, list[str]]:
    """Trait name → list of values, validated; a single string value becomes a one-item list,
    values are stripped and de-duplicated in order, and a trait left without values is dropped."""
    if not isinstance(traits, Mapping):
        raise UserChangeInvalid("Traits must be a mapping of name to values.", field="traits")
    if len(traits) > MAX_TRAITS:
        raise UserChangeInvalid(f"A user has at most {MAX_TRAITS} traits.", field="traits")
    cleaned: dict[str, list[str]] = {}
    for name, values in traits.items():
        if not isinstance(name, str) or not name.strip():
            raise UserChangeInvalid("Every trait needs a name.", field="traits")
        name = name.strip()
        if len(name) > MAX_TRAIT_NAME or not set(name) <= TRAIT_NAME_CHARS:
            raise UserChangeInvalid(
                f"Trait name {name[:40]!r}: use up to {MAX_TRAIT_NAME} letters, digits, "
                "'_', '-', '.' or ':'.",
                field=f"traits.{name[:40]}",
            )
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise UserChangeInvalid(
                f"Trait {name!r}: the values must be text.", field=f"traits.{name}"
            )
        kept: list[str] = []
        for value in values:
            value = value.strip()
            if not value or value in kept:
                continue
            if len(value) > MAX_TRAIT_VALUE:
                raise UserChangeInvalid(
                    f"Trait {name!r}: a value is longer than {MAX_TRAIT_VALUE} characters.",
                    field=f"traits.{name}",
                )
            kept.append(value)
        if len(kept) > MAX_TRAIT_VALUES:
            raise UserChangeInvalid(
                f"Trait {name!r}: at most {MAX_TRAIT_VALUES} values.", field=f"traits.{name}"
            )
        if name in cleaned:
            raise UserChangeInvalid(f"Trait {name!r} is listed twice.", field=f"traits.{name}")
        if kept:
            cleaned[name] = kept
    return dict(sorted(cleaned.items()))


def _diff_roles(before: list[str], after: list[str]) -> dict[str, Any]:
    return {
        "before": before,
        "after": after,
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
    }


def _diff_traits(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "before": before,
        "after": after,
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def _apply(actor: Actor, user: User, field: str, value: Any, via: str) -> User:
    from apps.accounts.services import _revocable, _revoke_lost

    with transaction.atomic():
        stored = User.objects.select_for_update().get(pk=user.pk)
        _check_actor(actor, stored)
        raw = getattr(stored, field)
        before: Any = sorted(raw or []) if field == "roles" else dict(sorted((raw or {}).items()))
        if before == value:
            return stored
        reachable = _revocable(stored)
        setattr(stored, field, value)
        stored.save(update_fields=[field])
        diff = _diff_roles(before, value) if field == "roles" else _diff_traits(before, value)
        audit_record(
            event_type=events.USER_UPDATED,
            actor=actor,
            target_kind="user",
            target_name=stored.get_username(),
            details={"field": field, "via": via, **diff},
        )
        # Even an added role can take access away (its deny rules): compare, revoke what is lost.
        _revoke_lost(actor, stored, reachable, f"{field} changed")
    setattr(user, field, value)
    return stored


def set_user_roles(actor: Actor, user: User, roles: Iterable[Any], *, via: str = "portal") -> User:
    """Replace ``user``'s roles with ``roles`` (validated), audit the diff; return the user."""
    return _apply(actor, user, "roles", clean_roles(roles), via)


def set_user_traits(
    actor: Actor, user: User, traits: Mapping[Any, Any], *, via: str = "portal"
) -> User:
    """Replace ``user``'s internal traits with ``traits`` (validated), audit the diff."""
    return _apply(actor, user, "traits", clean_traits(traits), via)
