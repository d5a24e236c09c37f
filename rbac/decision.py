"""The one place that decides access: pure functions over roles, traits and app facts.

Semantics, in the order they are applied to one app:

1. Nothing is allowed by default.
2. A role whose `deny.app_labels` match the app and that has no `deny.aws_role_arns` denies the
   whole app. Otherwise matching deny rules remove every ARN their `aws_role_arns` match (globs,
   `^...$` regexes and templates allowed). Deny is evaluated first and always wins.
3. The candidates are the union of the expanded `allow.aws_role_arns` of roles whose
   `allow.app_labels` match the app. Expanded values that are not strict IAM role ARNs were
   already dropped by the template layer.
4. A candidate is kept only if its account is the app's account and the Roles Anywhere profile
   lists it, so users are never offered a role AWS would refuse.

`Evaluator` expands each role's templates once per user, and `accessible_apps` indexes the apps
by the label keys the roles mention, so a user with 50 roles over 10,000 apps costs a few set
operations per app rather than 50 selector evaluations.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from awsra.arn import ROLE_ARN_RE
from rbac.labels import LabelSelector, ValueMatcher, compile_selector, compile_value
from rbac.spec import (
    DEFAULT_MAX_SESSION_TTL,
    RoleOptions,
    RoleSpec,
    Rule,
)
from rbac.templates import Template, Traits, expand_role_arns, parse_template

__all__ = [
    "DEFAULT_MAX_SESSION_TTL",
    "AppCatalog",
    "AppFacts",
    "ArnVerdict",
    "CompiledRole",
    "Evaluator",
    "Explanation",
    "LabelCheck",
    "RoleOptions",
    "RoleSpec",
    "Rule",
    "RuleOutcome",
    "Traits",
    "accessible_apps",
    "allowed_aws_roles",
    "compile_role",
    "explain",
    "granting_roles",
    "max_session_ttl",
]


@dataclass(frozen=True)
class AppFacts:
    """What the engine needs to know about one synced AWS app."""

    name: str
    labels: Mapping[str, str]
    account_id: str
    role_arns: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _DenyArn:
    """One deny `aws_role_arns` entry: a pattern (literal/glob/regex/`*`) or a template."""

    source: str
    matcher: ValueMatcher | None
    template: Template | None


@dataclass(frozen=True)
class CompiledRole:
    """A role with its selectors and templates compiled; build once, reuse across requests."""

    spec: RoleSpec
    allow_selector: LabelSelector
    allow_templates: tuple[Template, ...]
    deny_selector: LabelSelector
    deny_arns: tuple[_DenyArn, ...]

    @property
    def name(self) -> str:
        """The role name."""
        return self.spec.name


def compile_role(spec: RoleSpec) -> CompiledRole:
    """Compile a role's selectors and templates; raises ValueError on a malformed spec."""
    deny_arns: list[_DenyArn] = []
    for source in spec.deny.aws_role_arns:
        template = parse_template(source)
        if template.is_literal:
            deny_arns.append(_DenyArn(source, compile_value(source), None))
        else:
            deny_arns.append(_DenyArn(source, None, template))
    return CompiledRole(
        spec=spec,
        allow_selector=compile_selector(spec.allow.app_labels),
        allow_templates=tuple(parse_template(s) for s in spec.allow.aws_role_arns),
        deny_selector=compile_selector(spec.deny.app_labels),
        deny_arns=tuple(deny_arns),
    )


def _compiled(roles: Iterable[RoleSpec | CompiledRole]) -> list[CompiledRole]:
    return [r if isinstance(r, CompiledRole) else compile_role(r) for r in roles]


# --- explanations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelCheck:
    """How one selector key fared against the app's labels."""

    key: str
    matched: bool
    reason: str


@dataclass(frozen=True)
class RuleOutcome:
    """One role's allow or deny rule evaluated against one app."""

    role: str
    effect: Literal["allow", "deny"]
    labels_matched: bool
    label_checks: tuple[LabelCheck, ...]
    aws_role_arns: tuple[str, ...]
    denies_whole_app: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArnVerdict:
    """The decision for one IAM role ARN on one app, with the reason in words."""

    arn: str
    allowed: bool
    reason: str
    allowed_by: tuple[str, ...] = ()
    denied_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Explanation:
    """Why a user can or cannot use an app (and one ARN on it, when asked)."""

    app: str
    allowed_arns: tuple[str, ...]
    rules: tuple[RuleOutcome, ...]
    arns: tuple[ArnVerdict, ...]
    verdict: ArnVerdict | None
    denied_whole_app_by: tuple[str, ...]
    max_session_ttl: timedelta | None
    summary: str

    @property
    def allowed(self) -> bool:
        """True if the asked ARN (or, without one, any ARN) is allowed."""
        if self.verdict is not None:
            return self.verdict.allowed
        return bool(self.allowed_arns)


# --- the evaluator ----------------------------------------------------------------------------


@dataclass
class _UserRole:
    """A compiled role with the user's traits applied."""

    role: CompiledRole
    allow_arns: frozenset[str]
    allow_notes: tuple[str, ...]
    deny_whole_app: bool
    deny_matchers: tuple[tuple[str, ValueMatcher], ...]
    deny_notes: tuple[str, ...] = field(default=())

    def denies(self, arn: str) -> str | None:
        """Return the deny entry that matches the ARN, if any."""
        for source, matcher in self.deny_matchers:
            if matcher.matches(arn):
                return source
        return None


_GLOB_CHARS = frozenset("*?[")


def _deny_template_matcher(template: Template, value: str) -> ValueMatcher:
    """Match one expanded deny entry: the trait value escaped, the operator's pattern kept."""
    if template.source.startswith("^") and template.source.endswith("$"):
        escaped = re.escape(value)
    elif _GLOB_CHARS.intersection(template.prefix + template.suffix):
        escaped = glob.escape(value)
    else:
        return ValueMatcher(template.prefix + value + template.suffix, "literal")
    try:
        return compile_value(template.prefix + escaped + template.suffix)
    except ValueError:
        # An operator pattern that only breaks once expanded must still deny: fail closed.
        return ValueMatcher("*", "any")


def _account_of(arn: str) -> str | None:
    match = ROLE_ARN_RE.fullmatch(arn)
    return match["account_id"] if match else None


class Evaluator:
    """Decisions for one user: their roles compiled and their traits expanded, once."""

    def __init__(self, roles: Iterable[RoleSpec | CompiledRole], traits: Traits) -> None:
        self.traits = traits
        self.roles: list[_UserRole] = []
        self._account: dict[str, str | None] = {}
        for role in _compiled(roles):
            self.roles.append(self._apply_traits(role))

    def _apply_traits(self, role: CompiledRole) -> _UserRole:
        arns, notes = expand_role_arns(role.allow_templates, self.traits, role_name=role.name)
        for arn in arns:
            self._account[arn] = _account_of(arn)
        matchers: list[tuple[str, ValueMatcher]] = []
        deny_notes: list[str] = []
        for entry in role.deny_arns:
            if entry.matcher is not None:
                matchers.append((entry.source, entry.matcher))
                continue
            assert entry.template is not None
            template = entry.template
            assert template.expression is not None
            values = template.expression.evaluate(self.traits)
            if not values:
                deny_notes.append(f"{entry.source!r}: trait gave no value, denies nothing")
            # A trait value is matched as exact text, but the operator's text around it keeps
            # its glob or regex meaning: comparing the whole expansion as a literal made
            # `arn:aws:iam::*:role/{{internal.x}}` deny nothing at all (fail open).
            matchers.extend((entry.source, _deny_template_matcher(template, v)) for v in values)
        return _UserRole(
            role=role,
            allow_arns=frozenset(arns),
            allow_notes=tuple(notes),
            deny_whole_app=not role.deny_selector.empty and not role.deny_arns,
            deny_matchers=tuple(matchers),
            deny_notes=tuple(deny_notes),
        )

    # One app ---------------------------------------------------------------------------------

    def allowed_aws_roles(self, app: AppFacts) -> set[str]:
        """Return the IAM role ARNs this user may assume on this app."""
        denying = [r for r in self.roles if r.role.deny_selector.matches(app.labels)]
        if any(r.deny_whole_app for r in denying):
            return set()
        candidates: set[str] = set()
        for user_role in self.roles:
            if user_role.allow_arns and user_role.role.allow_selector.matches(app.labels):
                candidates |= user_role.allow_arns
        return self._filter(candidates, app, denying)

    def _filter(
        self, candidates: set[str], app: AppFacts, denying: Sequence[_UserRole]
    ) -> set[str]:
        result = set()
        for arn in candidates & app.role_arns:
            if self._account.get(arn) != app.account_id:
                continue
            if any(r.denies(arn) for r in denying):
                continue
            result.add(arn)
        return result

    def granting_roles(self, app: AppFacts, arn: str) -> list[CompiledRole]:
        """Return the roles whose allow rule grants this ARN on this app (empty if denied)."""
        if arn not in self.allowed_aws_roles(app):
            return []
        return [
            r.role
            for r in self.roles
            if arn in r.allow_arns and r.role.allow_selector.matches(app.labels)
        ]

    # Many apps -------------------------------------------------------------------------------

    def accessible_apps(
        self, apps: Sequence[AppFacts] | AppCatalog
    ) -> list[tuple[AppFacts, tuple[str, ...]]]:
        """Return (app, sorted allowed ARNs) for every app with at least one allowed ARN."""
        catalog = apps if isinstance(apps, AppCatalog) else AppCatalog(apps)
        allow_roles = [r for r in self.roles if r.allow_arns and not r.role.allow_selector.empty]
        if not allow_roles or not len(catalog):
            return []
        deny_roles = [r for r in self.roles if not r.role.deny_selector.empty]

        # Roles with the same label selector match the same apps: walk each distinct selector
        # once with the bits of all its roles (50 roles sharing one deny rule cost one walk).
        allow_mask = _masks(
            catalog, [(r.role.spec.allow.app_labels, r.role.allow_selector) for r in allow_roles]
        )
        deny_mask = _masks(
            catalog, [(r.role.spec.deny.app_labels, r.role.deny_selector) for r in deny_roles]
        )

        # Apps matched by the same roles, listing the same IAM roles, in the same account get the
        # same answer: compute it once per such combination.
        union_by_mask: dict[int, frozenset[str]] = {}
        denying_by_mask: dict[int, tuple[bool, list[_UserRole]]] = {}
        answers: dict[tuple[int, int, frozenset[str], str], tuple[str, ...]] = {}
        result: list[tuple[AppFacts, tuple[str, ...]]] = []
        app_list = catalog.apps
        for position in sorted(allow_mask):
            app = app_list[position]
            mask = allow_mask[position]
            dmask = deny_mask.get(position, 0)
            key = (mask, dmask, app.role_arns, app.account_id)
            allowed = answers.get(key)
            if allowed is None:
                candidates = union_by_mask.get(mask)
                if candidates is None:
                    candidates = frozenset().union(
                        *(r.allow_arns for bit, r in enumerate(allow_roles) if mask >> bit & 1)
                    )
                    union_by_mask[mask] = candidates
                denying_entry = denying_by_mask.get(dmask)
                if denying_entry is None:
                    denying = [r for bit, r in enumerate(deny_roles) if dmask >> bit & 1]
                    denying_entry = (any(r.deny_whole_app for r in denying), denying)
                    denying_by_mask[dmask] = denying_entry
                whole, denying = denying_entry
                allowed = (
                    () if whole else tuple(sorted(self._filter(set(candidates), app, denying)))
                )
                answers[key] = allowed
            if allowed:
                result.append((app, allowed))
        return result

    # Explanations ----------------------------------------------------------------------------

    def explain(self, app: AppFacts, role_arn: str | None = None) -> Explanation:
        """Return which roles and rules allow or deny the app (and `role_arn`), and why."""
        rules: list[RuleOutcome] = []
        allowed_by: dict[str, list[str]] = {}
        denied_by: dict[str, list[str]] = {}
        whole_app: list[str] = []
        denying: list[_UserRole] = []
        for user_role in self.roles:
            role = user_role.role
            deny_checks = _label_checks(role.deny_selector, app)
            deny_hit = role.deny_selector.matches(app.labels)
            if not role.deny_selector.empty:
                rules.append(
                    RuleOutcome(
                        role=role.name,
                        effect="deny",
                        labels_matched=deny_hit,
                        label_checks=deny_checks,
                        aws_role_arns=tuple(e.source for e in role.deny_arns),
                        denies_whole_app=deny_hit and user_role.deny_whole_app,
                        notes=user_role.deny_notes,
                    )
                )
            if deny_hit:
                denying.append(user_role)
                if user_role.deny_whole_app:
                    whole_app.append(role.name)
            allow_hit = role.allow_selector.matches(app.labels)
            if not role.allow_selector.empty or role.allow_templates:
                rules.append(
                    RuleOutcome(
                        role=role.name,
                        effect="allow",
                        labels_matched=allow_hit,
                        label_checks=_label_checks(role.allow_selector, app),
                        aws_role_arns=tuple(sorted(user_role.allow_arns)),
                        notes=user_role.allow_notes,
                    )
                )
            if allow_hit:
                for arn in user_role.allow_arns:
                    allowed_by.setdefault(arn, []).append(role.name)

        candidates = set(allowed_by) | set(app.role_arns)
        if role_arn is not None:
            candidates.add(role_arn)
        for arn in candidates:
            for user_role in denying:
                source = user_role.denies(arn)
                if source is not None:
                    denied_by.setdefault(arn, []).append(f"{user_role.role.name} ({source})")

        verdicts = {
            arn: self._verdict(arn, app, allowed_by, denied_by, whole_app) for arn in candidates
        }
        allowed = tuple(sorted(arn for arn, v in verdicts.items() if v.allowed))
        granting = {name for arn in allowed for name in allowed_by.get(arn, [])}
        verdict = verdicts[role_arn] if role_arn is not None else None
        ttl = (
            max_session_ttl([r.role for r in self.roles if r.role.name in granting])
            if granting
            else None
        )
        return Explanation(
            app=app.name,
            allowed_arns=allowed,
            rules=tuple(rules),
            arns=tuple(verdicts[a] for a in sorted(verdicts)),
            verdict=verdict,
            denied_whole_app_by=tuple(whole_app),
            max_session_ttl=ttl,
            summary=_summary(app, allowed, verdict, whole_app, bool(self.roles)),
        )

    def _verdict(
        self,
        arn: str,
        app: AppFacts,
        allowed_by: Mapping[str, list[str]],
        denied_by: Mapping[str, list[str]],
        whole_app: Sequence[str],
    ) -> ArnVerdict:
        allowers = tuple(allowed_by.get(arn, ()))
        deniers = tuple(denied_by.get(arn, ()))
        if whole_app:
            reason = f"denied: role {', '.join(whole_app)} denies the whole app"
            return ArnVerdict(arn, False, reason, allowers, tuple(whole_app))
        if deniers:
            return ArnVerdict(arn, False, f"denied by {', '.join(deniers)}", allowers, deniers)
        if not allowers:
            reason = "no role whose allow.app_labels match this app lists this ARN"
            return ArnVerdict(arn, False, reason)
        account = self._account.get(arn) or _account_of(arn)
        if account != app.account_id:
            reason = f"ARN is in account {account}, the app is in account {app.account_id}"
            return ArnVerdict(arn, False, reason, allowers)
        if arn not in app.role_arns:
            reason = "the Roles Anywhere profile does not list this role, so AWS would refuse it"
            return ArnVerdict(arn, False, reason, allowers)
        return ArnVerdict(arn, True, f"allowed by {', '.join(allowers)}", allowers)


def _masks(
    catalog: AppCatalog, selectors: Sequence[tuple[Mapping[str, tuple[str, ...]], LabelSelector]]
) -> dict[int, int]:
    """Position -> bit set of the selectors (by index) that match the app there."""
    grouped: dict[tuple[tuple[str, tuple[str, ...]], ...], tuple[int, LabelSelector]] = {}
    for bit, (labels, selector) in enumerate(selectors):
        key = tuple(sorted((str(k), tuple(v)) for k, v in labels.items()))
        flags, first = grouped.get(key, (0, selector))
        grouped[key] = (flags | 1 << bit, first)
    mask: dict[int, int] = {}
    for flags, selector in grouped.values():
        for position in catalog.matching(selector):
            mask[position] = mask.get(position, 0) | flags
    return mask


def _label_checks(selector: LabelSelector, app: AppFacts) -> tuple[LabelCheck, ...]:
    return tuple(LabelCheck(k, m, r) for k, m, r in selector.explain(app.labels))


def _summary(
    app: AppFacts,
    allowed: Sequence[str],
    verdict: ArnVerdict | None,
    whole_app: Sequence[str],
    has_roles: bool,
) -> str:
    if not has_roles:
        return "The user has no roles, so nothing is allowed."
    if verdict is not None:
        word = "may" if verdict.allowed else "may not"
        return f"The user {word} assume {verdict.arn} on {app.name}: {verdict.reason}."
    if whole_app:
        return f"{app.name} is denied by role {', '.join(whole_app)}."
    if allowed:
        return f"The user may use {app.name} with {len(allowed)} IAM role(s)."
    return f"The user may not use {app.name}: no IAM role is allowed."


class AppCatalog:
    """Apps plus lazily built per-label-key indexes; reusable across users while apps are unchanged.

    Indexes and pattern results depend only on the apps, so one catalog can serve every user
    (the selectors keep one per app-table version).
    """

    def __init__(self, apps: Sequence[AppFacts]) -> None:
        self.apps: tuple[AppFacts, ...] = tuple(apps)
        self._labels = [app.labels for app in self.apps]
        self._by_key: dict[str, dict[str, list[int]]] = {}
        self._pattern_cache: dict[tuple[str, str], frozenset[int]] = {}

    def __len__(self) -> int:
        return len(self.apps)

    def _groups(self, key: str) -> dict[str, list[int]]:
        groups = self._by_key.get(key)
        if groups is None:
            groups = {}
            for position, labels in enumerate(self._labels):
                value = labels.get(key)
                if value is not None:
                    group = groups.get(value)
                    if group is None:
                        groups[value] = [position]
                    else:
                        group.append(position)
            self._by_key[key] = groups
        return groups

    def matching(self, selector: LabelSelector) -> Iterable[int]:
        """Return the positions of the apps the selector matches."""
        if selector.match_all:
            return range(len(self.apps))
        if not selector.keys:
            return ()
        # Literal-only keys are cheapest and most selective: intersect them first.
        ordered = sorted(selector.keys, key=lambda k: (k.any_value, len(k.patterns)))
        result: set[int] | None = None
        for key_matcher in ordered:
            by_value = self._groups(key_matcher.key)
            positions: set[int] = set()
            if key_matcher.any_value:
                for group in by_value.values():
                    positions.update(group)
            else:
                for literal in key_matcher.literals:
                    positions.update(by_value.get(literal, ()))
                for pattern in key_matcher.patterns:
                    positions |= self._pattern_positions(key_matcher.key, pattern, by_value)
            result = positions if result is None else result & positions
            if not result:
                return ()
        return result if result is not None else ()

    def _pattern_positions(
        self, key: str, pattern: ValueMatcher, by_value: Mapping[str, list[int]]
    ) -> frozenset[int]:
        cache_key = (key, pattern.source)
        cached = self._pattern_cache.get(cache_key)
        if cached is None:
            assert pattern.pattern is not None
            positions: set[int] = set()
            # filter() runs the regex loop in C: this is the hot path for globs over unique labels.
            for value in filter(pattern.pattern.fullmatch, by_value):
                positions.update(by_value[value])
            cached = frozenset(positions)
            self._pattern_cache[cache_key] = cached
        return cached


# --- the module-level API -----------------------------------------------------------------------


def allowed_aws_roles(
    roles: Iterable[RoleSpec | CompiledRole], traits: Traits, app: AppFacts
) -> set[str]:
    """Return the IAM role ARNs the roles allow on the app for a user with these traits."""
    return Evaluator(roles, traits).allowed_aws_roles(app)


def accessible_apps(
    roles: Iterable[RoleSpec | CompiledRole],
    traits: Traits,
    apps: Sequence[AppFacts] | AppCatalog,
) -> list[tuple[AppFacts, tuple[str, ...]]]:
    """Return (app, allowed ARNs) for each app with at least one allowed ARN, in input order."""
    return Evaluator(roles, traits).accessible_apps(apps)


def explain(
    roles: Iterable[RoleSpec | CompiledRole],
    traits: Traits,
    app: AppFacts,
    role_arn: str | None = None,
) -> Explanation:
    """Return a structured explanation of the decision for the app (and `role_arn`)."""
    return Evaluator(roles, traits).explain(app, role_arn)


def granting_roles(
    roles: Iterable[RoleSpec | CompiledRole], traits: Traits, app: AppFacts, role_arn: str
) -> list[CompiledRole]:
    """Return the roles that grant `role_arn` on the app (empty when it is not allowed)."""
    return Evaluator(roles, traits).granting_roles(app, role_arn)


def max_session_ttl(roles: Iterable[RoleSpec | CompiledRole]) -> timedelta:
    """Return the shortest `max_session_ttl` over the roles (each defaults to 8h)."""
    ttls = [
        (r.spec if isinstance(r, CompiledRole) else r).options.max_session_ttl
        or DEFAULT_MAX_SESSION_TTL
        for r in roles
    ]
    return min(ttls, default=DEFAULT_MAX_SESSION_TTL)
