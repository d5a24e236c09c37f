"""Reads for access requests: who may request or review which roles, and the active grants.

Request and review rights come from the roles a user is *assigned* (`user.roles`), never from
roles granted by a request: a temporary grant must not let its holder request or approve more.
Role names are matched with the engine's one value matcher (literal, glob or `^...$` regex).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.access.models import Role
from apps.access.requests.models import AccessRequest, AccessReview
from apps.access.selectors import (
    AppLike,
    as_app_facts,
    compiled_roles,
    role_names_existing,
    user_role_specs,
    user_traits,
)
from apps.accounts.models import User
from apps.core.capabilities import ACCESS_ADMIN, has_capability
from rbac.decision import AppFacts, CompiledRole, Evaluator
from rbac.labels import ValueMatcher, compile_value
from rbac.spec import RequestPolicy, RoleSpecError, request_policy, review_policy

__all__ = [
    "EffectiveRequestPolicy",
    "can_review",
    "effective_request_policy",
    "request_for_user",
    "requestable_role_names",
    "requestable_roles_for_app",
    "requests_all",
    "requests_of",
    "reviewable_requests",
    "reviewers_for",
    "unrequestable_roles",
]


@dataclass(frozen=True)
class EffectiveRequestPolicy:
    """The strictest combination of every requester role that permits the requested roles."""

    max_duration: timedelta
    reason_required: bool
    approvals: int
    denials: int


@functools.lru_cache(maxsize=1024)
def _matcher(pattern: str) -> ValueMatcher | None:
    try:
        return compile_value(pattern)
    except ValueError:
        return None


def _matches_any(patterns: Iterable[str], name: str) -> bool:
    for pattern in patterns:
        matcher = _matcher(pattern)
        if matcher is not None and matcher.matches(name):
            return True
    return False


def _assigned_roles(user: User) -> list[CompiledRole]:
    """The user's assigned roles only (one query), compiled through the engine's cache."""
    names = [n for n in (user.roles or []) if isinstance(n, str)]
    return compiled_roles(names)


def _request_policies(role: CompiledRole) -> tuple[RequestPolicy | None, tuple[str, ...]]:
    """(allow policy or None, deny role globs) of one role; an invalid policy allows nothing."""
    allow: RequestPolicy | None = None
    deny: tuple[str, ...] = ()
    try:
        if role.spec.allow.request:
            allow = request_policy(role.spec.allow.request)
        if role.spec.deny.request:
            deny = tuple(role.spec.deny.request.get("roles") or ())
    except RoleSpecError:
        return None, ("*",)
    return allow, deny


def _review_globs(role: CompiledRole) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        allow = review_policy(role.spec.allow.review_requests).roles
        deny = review_policy(role.spec.deny.review_requests).roles
    except RoleSpecError:
        return (), ("*",)
    return allow, deny


def _is_active(user: User) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def unrequestable_roles(user: User, roles: Sequence[str]) -> list[str]:
    """Which of `roles` the user may not request (deny rules win; held roles are refused)."""
    if not _is_active(user):
        return list(roles)
    assigned = _assigned_roles(user)
    held = set(user.roles or [])
    existing = role_names_existing(roles)
    policies = [_request_policies(role) for role in assigned]
    denied_globs = [glob for _, deny in policies for glob in deny]
    refused = []
    for name in roles:
        allowed = any(
            policy is not None and _matches_any(policy.roles, name) for policy, _ in policies
        )
        denied = _matches_any(denied_globs, name)
        if name in held or name not in existing or not allowed or denied:
            refused.append(name)
    return refused


def effective_request_policy(user: User, roles: Sequence[str]) -> EffectiveRequestPolicy:
    """Combine every requester role whose `allow.request.roles` matches a requested role.

    Strictest wins: the shortest max_duration, reason required if any says so, the most
    approvals and the fewest denials. Call after `unrequestable_roles` returned nothing.
    """
    applicable = [
        policy
        for policy, _ in (_request_policies(role) for role in _assigned_roles(user))
        if policy is not None and any(_matches_any(policy.roles, name) for name in roles)
    ]
    if not applicable:
        raise ValueError("no request policy applies; check unrequestable_roles first")
    return EffectiveRequestPolicy(
        max_duration=min(p.max_duration for p in applicable),
        reason_required=any(p.reason_required for p in applicable),
        approvals=max(p.approvals for p in applicable),
        denials=min(p.denials for p in applicable),
    )


def requestable_role_names(user: User) -> list[str]:
    """Existing roles the user may request (sorted; roles they already hold are left out)."""
    if not _is_active(user):
        return []
    assigned = _assigned_roles(user)
    if not any(role.spec.allow.request for role in assigned):
        return []
    names = list(Role.objects.order_by("name").values_list("name", flat=True))
    refused = set(unrequestable_roles(user, names))
    return [name for name in names if name not in refused]


def requestable_roles_for_app(user: User, app: AppFacts | AppLike) -> list[str]:
    """Requestable roles that would let the user use this app (more IAM roles than today)."""
    candidates = requestable_role_names(user)
    if not candidates:
        return []
    facts = as_app_facts(app)
    current = user_role_specs(user)
    traits = user_traits(user)
    today = Evaluator(current, traits).allowed_aws_roles(facts)
    result = []
    for role in compiled_roles(candidates):
        # The user's own deny rules still apply, exactly as they would once granted.
        if Evaluator([*current, role], traits).allowed_aws_roles(facts) - today:
            result.append(role.name)
    return sorted(result)


def _reviewer_globs(user: User) -> tuple[list[str], list[str]]:
    allow: list[str] = []
    deny: list[str] = []
    for role in _assigned_roles(user):
        role_allow, role_deny = _review_globs(role)
        allow.extend(role_allow)
        deny.extend(role_deny)
    return allow, deny


def _covers(globs: tuple[list[str], list[str]], roles: Iterable[str]) -> bool:
    allow, deny = globs
    names = list(roles)
    return bool(names) and all(
        _matches_any(allow, name) and not _matches_any(deny, name) for name in names
    )


def can_review(user: User, access_request: AccessRequest) -> bool:
    """May `user` review this request? Never their own; every requested role must be covered."""
    if not _is_active(user) or user.pk == access_request.requester_id:
        return False
    return _covers(_reviewer_globs(user), access_request.roles)


def _with_reviews(queryset: QuerySet[AccessRequest]) -> QuerySet[AccessRequest]:
    reviews = AccessReview.objects.select_related("reviewer").order_by("created_at")
    return queryset.select_related("requester", "ended_by").prefetch_related(
        Prefetch("reviews", queryset=reviews)
    )


def reviewable_requests(user: User) -> list[AccessRequest]:
    """Pending, unexpired requests of others that the user may review (fixed query count)."""
    if not _is_active(user):
        return []
    globs = _reviewer_globs(user)
    if not globs[0]:
        return []
    pending = _with_reviews(
        AccessRequest.objects.filter(
            state=AccessRequest.State.PENDING, review_deadline__gt=timezone.now()
        ).exclude(requester_id=user.pk)
    ).order_by("review_deadline")
    return [item for item in pending if _covers(globs, item.roles)]


def requests_of(user: User) -> QuerySet[AccessRequest]:
    """The user's own requests, newest first, with their reviews."""
    return _with_reviews(AccessRequest.objects.filter(requester_id=user.pk))


def requests_all(*, username: str = "", state: str = "") -> QuerySet[AccessRequest]:
    """Every request (staff history), optionally for one user or in one state."""
    queryset = AccessRequest.objects.all()
    if username:
        queryset = queryset.filter(requester__username=username)
    if state:
        queryset = queryset.filter(state=state)
    return _with_reviews(queryset)


def request_for_user(user: User, request_id: UUID | str) -> AccessRequest | None:
    """One request if the user may see it (its requester, a reviewer of it, or staff)."""
    if not _is_active(user):
        return None
    try:
        key = request_id if isinstance(request_id, UUID) else UUID(str(request_id))
    except ValueError:
        return None
    found = _with_reviews(AccessRequest.objects.filter(pk=key)).first()
    if found is None:
        return None
    if (
        found.requester_id == user.pk
        or has_capability(user, ACCESS_ADMIN)
        or can_review(user, found)
    ):
        return found
    return None


def reviewers_for(access_request: AccessRequest) -> list[Any]:
    """Active users (with an e-mail address) who may review this request, for notification."""
    candidates = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(pk=access_request.requester_id)
        .exclude(email="")
    )
    # Role lists are JSON, not portable to filter on in SQLite (the demo); users are few.
    return [user for user in candidates if user.roles and can_review(user, access_request)]
