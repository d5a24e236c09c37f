"""The role spec: plain dataclasses plus the one validator for role YAML/JSON.

`parse_role_spec` turns the `spec:` mapping of a `kind: role` document into a `RoleSpec`,
collecting every problem as a `FieldError` named after its YAML path, so the role editor and
`create -f` can show all mistakes at once. `RoleSpec.to_dict()` is the normalized form stored
in the database (`teleport.dev/` keys rewritten, single values turned into lists).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from awsra.arn import ArnError, parse_role_arn
from rbac.labels import compile_selector, compile_value, normalize_label_key
from rbac.templates import TemplateError, parse_template

__all__ = [
    "DEFAULT_MAX_SESSION_TTL",
    "DEFAULT_REQUEST_MAX_DURATION",
    "MAX_SESSION_TTL_CEILING",
    "MAX_SESSION_TTL_FLOOR",
    "REQUEST_MAX_DURATION_CEILING",
    "FieldError",
    "RequestPolicy",
    "ReviewPolicy",
    "RoleOptions",
    "RoleSpec",
    "RoleSpecError",
    "Rule",
    "format_duration",
    "parse_duration",
    "parse_role_spec",
    "request_policy",
    "review_policy",
]

DEFAULT_MAX_SESSION_TTL = timedelta(hours=8)
# AWS Roles Anywhere CreateSession and the console federation endpoint accept 900..43200 s;
# a TTL outside that range would only fail later, at launch.
MAX_SESSION_TTL_FLOOR = timedelta(minutes=15)
MAX_SESSION_TTL_CEILING = timedelta(hours=12)

# Far past every ceiling (12 h sessions, 168 h requests), so those give the useful message.
MAX_PARSED_DURATION_SECONDS = 366 * 24 * 3600
_DURATION_RE = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?", re.ASCII)
_ROLE_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?", re.ASCII)
_ALLOW_KEYS = ("app_labels", "aws_role_arns", "request", "review_requests")
_DENY_KEYS = ("app_labels", "aws_role_arns", "request", "review_requests")
_SPEC_KEYS = ("allow", "deny", "options")
_OPTION_KEYS = ("max_session_ttl",)
# Access requests (Teleport's shapes): `request: {roles, max_duration, reason: {mode},
# thresholds: [{approve, deny}]}` and `review_requests: {roles}`. A deny rule only narrows roles.
_REQUEST_KEYS = ("roles", "max_duration", "reason", "thresholds")
_REVIEW_KEYS = ("roles",)
_DENY_REQUEST_KEYS = ("roles",)
_REASON_MODES = ("required", "optional")
DEFAULT_REQUEST_MAX_DURATION = timedelta(hours=8)
# A grant is temporary by definition; a week is Teleport's ceiling too.
REQUEST_MAX_DURATION_CEILING = timedelta(hours=168)
REQUEST_MAX_DURATION_FLOOR = timedelta(minutes=5)
_MAX_THRESHOLD = 10


@dataclass(frozen=True)
class FieldError:
    """One validation problem, located by its YAML path (e.g. `spec.allow.aws_role_arns[0]`)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RoleSpecError(ValueError):
    """A role spec with one or more field errors."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class Rule:
    """An allow or deny rule: label selector, role ARN entries and stored request settings."""

    app_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    aws_role_arns: tuple[str, ...] = ()
    request: Mapping[str, Any] = field(default_factory=dict)
    review_requests: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the normalized, JSON-ready form (empty fields omitted)."""
        result: dict[str, Any] = {}
        if self.app_labels:
            result["app_labels"] = {k: list(v) for k, v in self.app_labels.items()}
        if self.aws_role_arns:
            result["aws_role_arns"] = list(self.aws_role_arns)
        if self.request:
            result["request"] = dict(self.request)
        if self.review_requests:
            result["review_requests"] = dict(self.review_requests)
        return result


@dataclass(frozen=True)
class RoleOptions:
    """Role options; `max_session_ttl` None means the default (8h)."""

    max_session_ttl: timedelta | None = None


@dataclass(frozen=True)
class RequestPolicy:
    """A role's `allow.request` (or `deny.request`) settings with defaults applied."""

    roles: tuple[str, ...] = ()
    max_duration: timedelta = DEFAULT_REQUEST_MAX_DURATION
    reason_required: bool = False
    approvals: int = 1
    denials: int = 1


@dataclass(frozen=True)
class ReviewPolicy:
    """A role's `allow.review_requests` (or deny) settings: role-name globs it may review."""

    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSpec:
    """A role as the engine sees it: name, allow and deny rules, options."""

    name: str
    allow: Rule = field(default_factory=Rule)
    deny: Rule = field(default_factory=Rule)
    options: RoleOptions = field(default_factory=RoleOptions)

    def to_dict(self) -> dict[str, Any]:
        """Return the normalized `spec:` mapping stored in the database."""
        result: dict[str, Any] = {"allow": self.allow.to_dict(), "deny": self.deny.to_dict()}
        if self.options.max_session_ttl is not None:
            result["options"] = {"max_session_ttl": format_duration(self.options.max_session_ttl)}
        return result


def parse_duration(text: object) -> timedelta:
    """Parse `8h`, `30m`, `1h30m` or `90s` into a timedelta; raises ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration like '8h' or '30m', got {text!r}")
    match = _DURATION_RE.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration like '8h', '30m' or '1h30m'")
    groups = match.groups()
    if any(g and len(g) > 9 for g in groups):
        raise ValueError(f"{text[:40]!r} is far longer than any duration Rolegate accepts")
    hours, minutes, seconds = (int(g) if g else 0 for g in groups)
    # Bounded before a timedelta is built: `99999999999h` would overflow it (a 500, not a 4xx).
    total = hours * 3600 + minutes * 60 + seconds
    if total > MAX_PARSED_DURATION_SECONDS:
        raise ValueError(
            f"{text!r} is longer than any duration Rolegate accepts (at most "
            f"{MAX_PARSED_DURATION_SECONDS // 3600}h)"
        )
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """Format a timedelta as `8h`, `1h30m`, `45m` or `90s` (inverse of parse_duration)."""
    total = int(value.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    text += f"{seconds}s" if seconds else ""
    return text or "0s"


def validate_role_name(name: object) -> str | None:
    """Return an error message for a bad role name, or None if it is fine."""
    if not isinstance(name, str) or not _ROLE_NAME_RE.fullmatch(name):
        return (
            f"{name!r} is not a valid role name: use 1-63 lowercase letters, digits, '.', '_' "
            "or '-', starting and ending with a letter or digit"
        )
    return None


def parse_role_spec(name: str, spec: object) -> RoleSpec:
    """Validate a role's `spec:` mapping; raises RoleSpecError listing every field error."""
    errors: list[FieldError] = []
    name_problem = validate_role_name(name)
    if name_problem:
        errors.append(FieldError("metadata.name", name_problem))
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise RoleSpecError([*errors, FieldError("spec", "must be a mapping")])
    _unknown_keys(spec, _SPEC_KEYS, "spec", errors)
    allow = _parse_rule(spec.get("allow"), "spec.allow", deny=False, errors=errors)
    deny = _parse_rule(spec.get("deny"), "spec.deny", deny=True, errors=errors)
    options = _parse_options(spec.get("options"), errors)
    if errors:
        raise RoleSpecError(errors)
    return RoleSpec(name=name, allow=allow, deny=deny, options=options)


def _unknown_keys(
    mapping: Mapping[Any, Any], allowed: Sequence[str], where: str, errors: list[FieldError]
) -> None:
    for key in mapping:
        if key not in allowed:
            errors.append(
                FieldError(f"{where}.{key}", f"unknown field; supported: {', '.join(allowed)}")
            )


def _parse_rule(raw: object, where: str, *, deny: bool, errors: list[FieldError]) -> Rule:
    if raw is None:
        return Rule()
    if not isinstance(raw, Mapping):
        errors.append(FieldError(where, "must be a mapping"))
        return Rule()
    _unknown_keys(raw, _DENY_KEYS if deny else _ALLOW_KEYS, where, errors)
    labels = _parse_labels(raw.get("app_labels"), f"{where}.app_labels", errors)
    arns = _parse_arns(raw.get("aws_role_arns"), f"{where}.aws_role_arns", deny, errors)
    if deny and arns and not labels:
        errors.append(
            FieldError(
                f"{where}.app_labels",
                "a deny of aws_role_arns needs app_labels to say where it applies; "
                "use {'*': '*'} to deny those ARNs on every app",
            )
        )
    request = _parse_request(raw.get("request"), f"{where}.request", errors, deny=deny)
    review = _parse_request(
        raw.get("review_requests"), f"{where}.review_requests", errors, review=True, deny=deny
    )
    return Rule(app_labels=labels, aws_role_arns=arns, request=request, review_requests=review)


def _parse_labels(raw: object, where: str, errors: list[FieldError]) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(FieldError(where, "must be a mapping of label key to value or list"))
        return {}
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        path = f"{where}[{key!r}]"
        if not isinstance(key, str) or not key:
            errors.append(FieldError(path, "label key must be a non-empty string"))
            continue
        values = [value] if not isinstance(value, list) else value
        if not values:
            errors.append(FieldError(path, "needs at least one value"))
            continue
        good: list[str] = []
        for item in values:
            if not isinstance(item, str):
                # Unquoted YAML numbers are refused rather than converted: `012345670123` would
                # load as an octal int and silently become another account id.
                errors.append(
                    FieldError(path, f"value {item!r} must be a string; quote it in YAML")
                )
                continue
            try:
                compile_value(item)
            except ValueError as exc:
                errors.append(FieldError(path, str(exc)))
                continue
            good.append(item)
        normalized = normalize_label_key(key)
        if normalized != key and normalized in raw:
            errors.append(FieldError(path, f"duplicates {normalized!r}; keep one of the two"))
            continue
        if not good:
            continue
        bucket = result.setdefault(normalized, [])
        bucket.extend(v for v in good if v not in bucket)
    try:
        compile_selector(result)
    except ValueError as exc:
        errors.append(FieldError(where, str(exc)))
    return {k: tuple(v) for k, v in result.items()}


def _parse_arns(raw: object, where: str, deny: bool, errors: list[FieldError]) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        errors.append(FieldError(where, "must be a list of IAM role ARNs or templates"))
        return ()
    result: list[str] = []
    for index, item in enumerate(items):
        path = f"{where}[{index}]"
        if isinstance(item, Mapping):
            errors.append(
                FieldError(path, "looks like an unquoted {{...}} template; quote it in YAML")
            )
            continue
        try:
            template = parse_template(item)
        except TemplateError as exc:
            errors.append(FieldError(path, str(exc)))
            continue
        if template.is_literal:
            if deny:
                try:
                    compile_value(item)
                except ValueError as exc:
                    errors.append(FieldError(path, str(exc)))
                    continue
            elif item == "*" or item.startswith("^") or any(c in item for c in "*?["):
                errors.append(
                    FieldError(
                        path,
                        "globs and regular expressions are only allowed in deny rules; an allow "
                        "rule lists exact IAM role ARNs or {{...}} templates",
                    )
                )
                continue
            else:
                try:
                    parse_role_arn(item)
                except ArnError as exc:
                    errors.append(FieldError(path, str(exc)))
                    continue
        if item not in result:
            result.append(item)
    return tuple(result)


def _parse_request(
    raw: object, where: str, errors: list[FieldError], *, review: bool = False, deny: bool = False
) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(FieldError(where, "must be a mapping"))
        return {}
    if review:
        _review_policy(raw, where, errors)
    else:
        _request_policy(raw, where, errors, deny=deny)
    # Stored as written (validated above), so `get` round-trips the author's document.
    return dict(raw)


def _role_globs(raw: object, where: str, errors: list[FieldError]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not (isinstance(raw, list) and all(isinstance(r, str) and r for r in raw)):
        errors.append(FieldError(where, "must be a list of role names"))
        return ()
    good: list[str] = []
    for item in raw:
        try:
            compile_value(item)
        except ValueError as exc:
            errors.append(FieldError(where, str(exc)))
            continue
        good.append(item)
    return tuple(good)


def _request_policy(
    raw: Mapping[Any, Any], where: str, errors: list[FieldError], *, deny: bool
) -> RequestPolicy:
    _unknown_keys(raw, _DENY_REQUEST_KEYS if deny else _REQUEST_KEYS, where, errors)
    roles = _role_globs(raw.get("roles"), f"{where}.roles", errors)
    max_duration = DEFAULT_REQUEST_MAX_DURATION
    if raw.get("max_duration") is not None:
        try:
            parsed = parse_duration(raw["max_duration"])
        except ValueError as exc:
            errors.append(FieldError(f"{where}.max_duration", str(exc)))
        else:
            if REQUEST_MAX_DURATION_FLOOR <= parsed <= REQUEST_MAX_DURATION_CEILING:
                max_duration = parsed
            else:
                errors.append(
                    FieldError(
                        f"{where}.max_duration",
                        f"{raw['max_duration']!r} is outside 5m..168h (a week)",
                    )
                )
    reason_required = False
    reason = raw.get("reason")
    if reason is not None:
        mode = reason.get("mode") if isinstance(reason, Mapping) else None
        if not isinstance(reason, Mapping) or set(reason) - {"mode"} or mode not in _REASON_MODES:
            errors.append(
                FieldError(f"{where}.reason", "must be {mode: required} or {mode: optional}")
            )
        else:
            reason_required = mode == "required"
    approvals, denials = 1, 1
    thresholds = raw.get("thresholds")
    if thresholds is not None:
        items = [thresholds] if isinstance(thresholds, Mapping) else thresholds
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], Mapping):
            errors.append(
                FieldError(
                    f"{where}.thresholds", "must be one mapping like [{approve: 2, deny: 1}]"
                )
            )
        else:
            _unknown_keys(items[0], ("approve", "deny"), f"{where}.thresholds[0]", errors)
            counts = []
            for key in ("approve", "deny"):
                value = items[0].get(key, 1)
                if isinstance(value, bool) or not isinstance(value, int):
                    value = -1
                if not 1 <= value <= _MAX_THRESHOLD:
                    errors.append(
                        FieldError(
                            f"{where}.thresholds[0].{key}",
                            f"must be a whole number from 1 to {_MAX_THRESHOLD}",
                        )
                    )
                    value = 1
                counts.append(value)
            approvals, denials = counts
    return RequestPolicy(
        roles=roles,
        max_duration=max_duration,
        reason_required=reason_required,
        approvals=approvals,
        denials=denials,
    )


def _review_policy(raw: Mapping[Any, Any], where: str, errors: list[FieldError]) -> ReviewPolicy:
    _unknown_keys(raw, _REVIEW_KEYS, where, errors)
    return ReviewPolicy(roles=_role_globs(raw.get("roles"), f"{where}.roles", errors))


def request_policy(raw: Mapping[str, Any]) -> RequestPolicy:
    """The typed view of a stored `request:` mapping; raises RoleSpecError if it is invalid."""
    errors: list[FieldError] = []
    policy = _request_policy(raw, "request", errors, deny=False)
    if errors:
        raise RoleSpecError(errors)
    return policy


def review_policy(raw: Mapping[str, Any]) -> ReviewPolicy:
    """The typed view of a stored `review_requests:` mapping; raises RoleSpecError if invalid."""
    errors: list[FieldError] = []
    policy = _review_policy(raw, "review_requests", errors)
    if errors:
        raise RoleSpecError(errors)
    return policy


def _parse_options(raw: object, errors: list[FieldError]) -> RoleOptions:
    if raw is None:
        return RoleOptions()
    if not isinstance(raw, Mapping):
        errors.append(FieldError("spec.options", "must be a mapping"))
        return RoleOptions()
    _unknown_keys(raw, _OPTION_KEYS, "spec.options", errors)
    ttl_raw = raw.get("max_session_ttl")
    if ttl_raw is None:
        return RoleOptions()
    try:
        ttl = parse_duration(ttl_raw)
    except ValueError as exc:
        errors.append(FieldError("spec.options.max_session_ttl", str(exc)))
        return RoleOptions()
    if not MAX_SESSION_TTL_FLOOR <= ttl <= MAX_SESSION_TTL_CEILING:
        errors.append(
            FieldError(
                "spec.options.max_session_ttl",
                f"{ttl_raw!r} is outside 15m..12h, the session lengths AWS accepts",
            )
        )
        return RoleOptions()
    return RoleOptions(max_session_ttl=ttl)
