"""When a user's access to one IAM role on one app ends, and how long credentials may live.

`access_end_for` answers "until when may this user assume this role ARN on this app?": a
standing (assigned) role gives no extra bound; access that exists only through grants ends
when the last grant it depends on ends; a CLI login's expiry bounds API issuance as well.
`issuance_duration` turns that end into the `durationSeconds` of CreateSession (and the
console's `SessionDuration`), applying AWS's 900-second minimum and the kill switch rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.access.requests.models import AccessGrant
from apps.access.selectors import AppLike, as_app_facts, compiled_roles, user_traits
from apps.accounts.models import User
from rbac.decision import (
    DEFAULT_MAX_SESSION_TTL,
    AppFacts,
    CompiledRole,
    Evaluator,
    Traits,
    max_session_ttl,
)

__all__ = [
    "MIN_SESSION_SECONDS",
    "AccessEnd",
    "AppDecision",
    "DurationPlan",
    "access_end_for",
    "app_decision",
    "grant_only_ends",
    "issuance_duration",
]

# Roles Anywhere (and STS) refuse durationSeconds under 15 minutes.
MIN_SESSION_SECONDS = 900

REASON_STANDING = "standing role"
REASON_GRANT = "grant ends"
REASON_LOGIN = "login expires"


@dataclass(frozen=True)
class AccessEnd:
    """The moment access ends (None: no bound beyond the role's TTL) and why."""

    ends_at: datetime | None
    reason: str
    # The access requests whose grants carry the access (empty for standing access).
    request_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DurationPlan:
    """The duration to ask AWS for, why it was chosen, or why nothing may be issued."""

    seconds: int
    reason: str
    access_ends_at: datetime | None
    refusal: str = ""


def _allows(
    compiled: dict[str, CompiledRole],
    names: Sequence[str],
    traits: Any,
    facts: AppFacts,
    role_arn: str,
) -> bool:
    roles = [compiled[name] for name in dict.fromkeys(names) if name in compiled]
    return role_arn in Evaluator(roles, traits).allowed_aws_roles(facts)


class AppDecision:
    """One user's decision on one app, made once per request and carried through issuance.

    Built from two queries (the grants in force, then every role they and the assignment
    name); everything after (allowed ARNs, the session cap, when access ends) is in memory.
    """

    def __init__(
        self,
        *,
        facts: AppFacts,
        assigned: Sequence[str],
        grants: Sequence[tuple[str, datetime, Any]],
        compiled: dict[str, CompiledRole],
        traits: Traits,
        now: datetime,
    ) -> None:
        self.facts = facts
        self.now = now
        self._assigned = list(assigned)
        self._grants = list(grants)
        self._compiled = compiled
        self._traits = traits
        held = [*self._assigned, *(name for name, _, _ in self._grants)]
        self._roles = [compiled[name] for name in dict.fromkeys(held) if name in compiled]
        self._evaluator = Evaluator(self._roles, traits)
        self.allowed: frozenset[str] = frozenset(self._evaluator.allowed_aws_roles(facts))

    def session_ttl(self, role_arn: str) -> timedelta:
        """The cap for `role_arn`: the shortest TTL of the roles granting it (else of all roles)."""
        granting = self._evaluator.granting_roles(self.facts, role_arn)
        if granting:
            return max_session_ttl(granting)
        return max_session_ttl(self._roles) if self._roles else DEFAULT_MAX_SESSION_TTL

    def access_end(self, role_arn: str, *, login_expires_at: datetime | None = None) -> AccessEnd:
        """When access to `role_arn` ends (see `access_end_for`), from the loaded grants."""
        return _access_end(
            self._compiled,
            self._assigned,
            self._grants,
            self._traits,
            self.facts,
            role_arn,
            login_expires_at,
        )


def _grants_in_force(user: User, moment: datetime) -> list[tuple[str, datetime, Any]]:
    if getattr(user, "pk", None) is None:
        return []
    return list(
        AccessGrant.objects.filter(user_id=user.pk, ended_at__isnull=True, ends_at__gt=moment)
        .order_by("ends_at")
        .values_list("role_name", "ends_at", "request_id")
    )


def app_decision(
    user: User, app: AppFacts | AppLike, *, now: datetime | None = None
) -> AppDecision:
    """The user's decision on `app` (allowed ARNs, TTL, access end), in two queries."""
    moment = now or timezone.now()
    assigned = [name for name in (user.roles or []) if isinstance(name, str)]
    active = bool(getattr(user, "is_authenticated", False) and user.is_active)
    grants = _grants_in_force(user, moment) if active else []
    names = [*assigned, *(g[0] for g in grants)] if active else []
    compiled = {role.name: role for role in compiled_roles(names)}
    return AppDecision(
        facts=as_app_facts(app),
        assigned=assigned,
        grants=grants,
        compiled=compiled,
        traits=user_traits(user),
        now=moment,
    )


def access_end_for(
    user: User,
    app: AppFacts | AppLike,
    role_arn: str,
    *,
    now: datetime | None = None,
    login_expires_at: datetime | None = None,
) -> AccessEnd:
    """When the user's access to `role_arn` on `app` ends, and the reason.

    Grants are walked by their end: access ends at the first grant end after which the
    remaining roles (assigned plus the grants still running) no longer allow the ARN, so a
    grant whose role is not what allows the ARN never shortens the session.
    """
    moment = now or timezone.now()
    assigned = [name for name in (user.roles or []) if isinstance(name, str)]
    grants = _grants_in_force(user, moment)
    compiled = {role.name: role for role in compiled_roles([*assigned, *(g[0] for g in grants)])}
    return _access_end(
        compiled, assigned, grants, user_traits(user), as_app_facts(app), role_arn, login_expires_at
    )


def _access_end(
    compiled: dict[str, CompiledRole],
    assigned: Sequence[str],
    grants: Sequence[tuple[str, datetime, Any]],
    traits: Traits,
    facts: AppFacts,
    role_arn: str,
    login_expires_at: datetime | None,
) -> AccessEnd:
    grant_end: datetime | None = None
    request_ids: tuple[str, ...] = ()
    if not _allows(compiled, assigned, traits, facts, role_arn) and grants:
        for _, ends_at, _ in grants:
            remaining = [name for name, end, _ in grants if end > ends_at]
            if not _allows(compiled, [*assigned, *remaining], traits, facts, role_arn):
                grant_end = ends_at
                break
        else:  # unreachable while the ARN is allowed now, but never leave it unbounded
            grant_end = grants[-1][1]
        request_ids = tuple(
            dict.fromkeys(str(request_id) for _, end, request_id in grants if end <= grant_end)
        )
    if login_expires_at is not None and (grant_end is None or login_expires_at < grant_end):
        return AccessEnd(ends_at=login_expires_at, reason=REASON_LOGIN, request_ids=request_ids)
    if grant_end is not None:
        return AccessEnd(ends_at=grant_end, reason=REASON_GRANT, request_ids=request_ids)
    return AccessEnd(ends_at=None, reason=REASON_STANDING)


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return "less than a minute"
    minutes = seconds // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def issuance_duration(
    *,
    base_seconds: int,
    access_end: AccessEnd,
    kill_switch: bool,
    now: datetime | None = None,
) -> DurationPlan:
    """Cap `base_seconds` (role TTL, profile, request) at the access end.

    Under 15 minutes left: 900 s when the integration's kill switch will end the sessions at
    access end; otherwise a refusal (AWS cannot issue anything shorter). A login about to
    expire is never covered by the kill switch, so it always refuses.
    """
    ends_at = access_end.ends_at
    if ends_at is None:
        return DurationPlan(
            seconds=base_seconds,
            reason="role and profile limits (standing access)",
            access_ends_at=None,
        )
    moment = now or timezone.now()
    remaining = math.floor((ends_at - moment).total_seconds())
    if remaining >= base_seconds:
        return DurationPlan(
            seconds=base_seconds,
            reason=f"role and profile limits (the {access_end.reason} later)",
            access_ends_at=ends_at,
        )
    if remaining >= MIN_SESSION_SECONDS:
        return DurationPlan(
            seconds=remaining,
            reason=f"capped at access end ({access_end.reason})",
            access_ends_at=ends_at,
        )
    if access_end.reason == REASON_LOGIN:
        return DurationPlan(
            seconds=0,
            reason="login expires within the AWS minimum",
            access_ends_at=ends_at,
            refusal=(
                f"Your Rolegate login ends in {_in_words(max(remaining, 0))}, shorter than the "
                "15-minute minimum AWS allows; run 'rolegate login' again."
            ),
        )
    if kill_switch:
        return DurationPlan(
            seconds=MIN_SESSION_SECONDS,
            reason=(
                f"access ends in {max(remaining, 0)} s, under AWS's 900 s minimum; the "
                "integration's session revocation ends the session at access end"
            ),
            access_ends_at=ends_at,
        )
    return DurationPlan(
        seconds=0,
        reason="access ends within the AWS minimum and session revocation is off",
        access_ends_at=ends_at,
        refusal=(
            f"Your access ends in {_in_words(max(remaining, 0))}, shorter than the 15-minute "
            "minimum AWS allows; ask for an extension."
        ),
    )


def grant_only_ends(
    user: User,
    accessible: Sequence[tuple[AppFacts, Sequence[str]]],
    *,
    now: datetime | None = None,
) -> dict[str, datetime]:
    """For apps the user reaches only through grants: app name -> when that access ends.

    `accessible` is what `accessible_apps` returned. One query for the grants (none: no work),
    one for the roles; the walk per app is in memory.
    """
    moment = now or timezone.now()
    grants = list(
        AccessGrant.objects.filter(user_id=user.pk, ended_at__isnull=True, ends_at__gt=moment)
        .order_by("ends_at")
        .values_list("role_name", "ends_at")
    )
    if not grants:
        return {}
    assigned = [name for name in (user.roles or []) if isinstance(name, str)]
    compiled = {role.name: role for role in compiled_roles([*assigned, *(g[0] for g in grants)])}
    traits = user_traits(user)
    standing = Evaluator([compiled[n] for n in assigned if n in compiled], traits)
    ends: dict[str, datetime] = {}
    for facts, arns in accessible:
        if standing.allowed_aws_roles(facts):
            continue
        latest: datetime | None = None
        for arn in arns:
            end = grants[-1][1]
            for _, ends_at in grants:
                remaining = [name for name, other in grants if other > ends_at]
                if not _allows(compiled, [*assigned, *remaining], traits, facts, arn):
                    end = ends_at
                    break
            latest = end if latest is None or end > latest else latest
        if latest is not None:
            ends[facts.name] = latest
    return ends
