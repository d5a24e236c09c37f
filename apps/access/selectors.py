"""Reads for access decisions: a user's roles and traits, fed to the pure engine.

Every user-facing question ("which apps?", "which IAM roles on this app?", "why?") goes through
these functions, which load the user's roles in one query, reuse compiled roles across requests
(keyed by name and `updated_at`), and hand plain `AppFacts` to `rbac.decision`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db.models import Q, QuerySet

from apps.access.models import Role
from apps.access.requests.grants import granted_role_names, granted_roles_query
from apps.accounts.models import User
from rbac.decision import (
    DEFAULT_MAX_SESSION_TTL,
    AppFacts,
    CompiledRole,
    Evaluator,
    Explanation,
    Traits,
    compile_role,
)
from rbac.decision import max_session_ttl as roles_max_session_ttl
from rbac.spec import RoleSpec, RoleSpecError, Rule, parse_role_spec

__all__ = [
    "AppLike",
    "UserAccess",
    "accessible_apps",
    "allowed_aws_roles",
    "as_app_facts",
    "compiled_roles",
    "explain",
    "extra_role_names",
    "max_session_ttl",
    "role_get",
    "role_list",
    "role_names_existing",
    "role_preview",
    "session_ttl",
    "user_access",
    "user_evaluator",
    "user_role_names",
    "user_role_specs",
    "user_traits",
]

logger = logging.getLogger("apps.access")

_CACHE_LIMIT = 2048
_compiled_cache: dict[tuple[str, datetime], CompiledRole] = {}
_cache_lock = threading.Lock()


class AppLike(Protocol):
    """Anything with the attributes the engine needs (an AwsApp row, for instance)."""

    name: str
    labels: Any
    account_id: str
    role_arns: Any


def as_app_facts(app: AppFacts | AppLike) -> AppFacts:
    """Return the engine's plain view of an app (AppFacts pass through unchanged)."""
    if isinstance(app, AppFacts):
        return app
    return AppFacts(
        name=str(app.name),
        labels={str(k): str(v) for k, v in (app.labels or {}).items()},
        account_id=str(app.account_id),
        role_arns=frozenset(app.role_arns or ()),
    )


def extra_role_names(user: User) -> list[str]:
    """Role names granted for a limited time by approved access requests still in force."""
    return granted_role_names(user)


def user_role_names(user: User) -> list[str]:
    """The names of every role the user holds now: assigned plus temporarily granted."""
    names = [n for n in (user.roles or []) if isinstance(n, str)]
    for name in extra_role_names(user):
        if name not in names:
            names.append(name)
    return names


def user_traits(user: User) -> Traits:
    """The user's internal and external traits as the engine sees them."""
    return Traits.from_mappings(user.traits or {}, user.external_traits or {})


_DENY_EVERYTHING = Rule(
    app_labels={"*": ("*",)},
    request={"roles": ["*"]},
    review_requests={"roles": ["*"]},
)


def _compile_stored(name: str, spec: Mapping[str, Any], updated_at: datetime) -> CompiledRole:
    key = (name, updated_at)
    cached = _compiled_cache.get(key)
    if cached is not None:
        return cached
    try:
        compiled = compile_role(parse_role_spec(name, spec))
    except (RoleSpecError, ValueError) as exc:
        # A stored role that no longer validates must fail closed: it denies every app, every
        # access request and every review rather than silently losing its deny rules.
        logger.error("role %r is invalid and denies every app until fixed: %s", name, exc)
        compiled = compile_role(RoleSpec(name=name, deny=_DENY_EVERYTHING))
    with _cache_lock:
        if len(_compiled_cache) >= _CACHE_LIMIT:
            _compiled_cache.clear()
        _compiled_cache[key] = compiled
    return compiled


def compiled_roles(names: Sequence[str]) -> list[CompiledRole]:
    """These stored roles compiled (one query; cached by name and `updated_at`; unknown: none)."""
    if not names:
        return []
    rows = Role.objects.filter(name__in=list(names)).values_list("name", "spec", "updated_at")
    return [_compile_stored(name, spec, updated_at) for name, spec, updated_at in rows]


def user_role_specs(user: User) -> list[CompiledRole]:
    """The user's roles (assigned and granted now), compiled, in one query; unknown names: none."""
    # Grants ride along as a subquery, so a decision still costs one query.
    return [_compile_stored(name, spec, at) for name, spec, at in _user_role_rows(user)]


def _user_role_rows(user: User) -> list[tuple[str, Any, datetime]]:
    names = [n for n in (user.roles or []) if isinstance(n, str)]
    if getattr(user, "pk", None) is None:
        if not names:
            return []
        query = Q(name__in=names)
    else:
        query = Q(name__in=names) | Q(name__in=granted_roles_query(user))
    return list(Role.objects.filter(query).values_list("name", "spec", "updated_at"))


class UserAccess:
    """A user's evaluator plus a key that is equal for every user whose decisions are equal.

    The key names the roles in force (by name and version, grants included) and the values of
    the traits their templates read, nothing else: two users with the same roles and the same
    relevant traits reach the same apps, so a listing computed for one serves the other.
    """

    __slots__ = ("evaluator", "key")

    def __init__(self, evaluator: Evaluator, key: tuple[Any, ...]) -> None:
        self.evaluator = evaluator
        self.key = key


def _trait_refs(role: CompiledRole) -> set[Any]:
    refs: set[Any] = set()
    templates = [*role.allow_templates, *(d.template for d in role.deny_arns if d.template)]
    for template in templates:
        if template.expression is not None:
            refs.add(template.expression.trait)
    return refs


def user_access(user: User) -> UserAccess:
    """The user's evaluator and access key, from one query (roles and grants in force)."""
    if not user.is_authenticated or not user.is_active:
        return UserAccess(Evaluator([], Traits()), ())
    rows = _user_role_rows(user)
    compiled = [_compile_stored(name, spec, updated_at) for name, spec, updated_at in rows]
    traits = user_traits(user)
    refs: set[Any] = set()
    for role in compiled:
        refs |= _trait_refs(role)
    trait_key = tuple(sorted(((ref.namespace, ref.name), traits.values(ref)) for ref in refs))
    role_key = tuple(sorted((name, updated_at) for name, _, updated_at in rows))
    return UserAccess(Evaluator(compiled, traits), (role_key, trait_key))


def user_evaluator(user: User) -> Evaluator:
    """An engine evaluator for the user: roles compiled and traits expanded once."""
    return Evaluator(user_role_specs(user), user_traits(user))


def accessible_apps(
    user: User, apps: Iterable[AppFacts | AppLike]
) -> list[tuple[AppFacts, tuple[str, ...]]]:
    """Which of these apps the user may use, each with its allowed IAM role ARNs."""
    if not user.is_authenticated or not user.is_active:
        return []
    return user_evaluator(user).accessible_apps([as_app_facts(a) for a in apps])


def allowed_aws_roles(user: User, app: AppFacts | AppLike) -> set[str]:
    """The IAM role ARNs the user may assume on this app."""
    if not user.is_authenticated or not user.is_active:
        return set()
    return user_evaluator(user).allowed_aws_roles(as_app_facts(app))


def explain(user: User, app: AppFacts | AppLike, role_arn: str | None = None) -> Explanation:
    """Why the user can or cannot use the app (and assume `role_arn` on it)."""
    return user_evaluator(user).explain(as_app_facts(app), role_arn)


def max_session_ttl(user: User) -> timedelta:
    """The shortest `max_session_ttl` over all the user's roles (8h when they set none)."""
    roles = user_role_specs(user)
    return roles_max_session_ttl(roles) if roles else DEFAULT_MAX_SESSION_TTL


def session_ttl(user: User, app: AppFacts | AppLike, role_arn: str) -> timedelta | None:
    """The session cap for one issuance: the shortest TTL of the roles granting it, or None."""
    granting = user_evaluator(user).granting_roles(as_app_facts(app), role_arn)
    return roles_max_session_ttl(granting) if granting else None


def role_list() -> QuerySet[Role]:
    """Every role, by name."""
    return Role.objects.order_by("name")


def role_get(name: str) -> Role | None:
    """One role by name, or None."""
    return Role.objects.filter(name=name).first()


def role_names_existing(names: Iterable[str]) -> set[str]:
    """Which of these role names exist (one query)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return set()
    return set(Role.objects.filter(name__in=wanted).values_list("name", flat=True))


def role_preview(spec: RoleSpec, apps: Sequence[AppFacts]) -> dict[str, Any]:
    """What a role grants on these (the synced) apps, before traits (templates shown as such)."""
    facts = list(apps)
    compiled = compile_role(spec)
    evaluator = Evaluator([compiled], Traits())
    granted = evaluator.accessible_apps(facts)
    denied = [
        app.name
        for app in facts
        if not compiled.deny_selector.empty and compiled.deny_selector.matches(app.labels)
    ]
    label_matches = [app.name for app in facts if compiled.allow_selector.matches(app.labels)]
    return {
        "granted": granted,
        "label_matches": label_matches,
        "denied": denied,
        "templates": [t.source for t in compiled.allow_templates if not t.is_literal],
        "app_count": len(facts),
    }


def role_editable_by(user: User, name: str) -> bool:
    """False when ``user`` holds the role (assigned or granted) and is not a superuser.

    Staff must not widen a role they hold: a role they could only use, they may not edit.
    """
    if getattr(user, "is_superuser", False):
        return True
    return name not in user_role_names(user)
