"""IAM permission policies with conditions, evaluated as AWS does, for moto's enforcement.

moto checks identity policies on every request but treats a statement whose conditions do not
hold as an explicit Deny (and knows no request context keys), so a Deny keyed on
`aws:SourceIdentity` would refuse everyone. This module replaces moto's statement check with
one that follows IAM's rules: a statement applies only when its action, resource and every
condition match; explicit Deny wins; `sts:GetCallerIdentity` is never denied (moto already
skips it). The request context (`aws:SourceIdentity`, `aws:TokenIssueTime`, ...) of sessions
that Roles Anywhere issued comes from the sandbox's own record of CreateSession, set for the
duration of each request; the policies themselves are read by moto from IAM, like AWS would.

Condition operators: String*/Arn* (with `Not`, `IgnoreCase`, `Like`), Date* (Equals,
NotEquals, LessThan[Equals], GreaterThan[Equals]), Numeric*, Bool, Null; the `IfExists` suffix
and `ForAnyValue:`/`ForAllValues:` prefixes.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

_local = threading.local()
_installed = False


@contextlib.contextmanager
def request_context(values: Mapping[str, str] | None) -> Iterator[None]:
    """Make `values` the condition context of IAM checks made by this thread meanwhile."""
    previous = getattr(_local, "values", None)
    _local.values = dict(values) if values else None
    try:
        yield
    finally:
        _local.values = previous


def current_context() -> dict[str, str]:
    """The condition context of the request being served by this thread (may be empty)."""
    values = getattr(_local, "values", None)
    return dict(values) if values else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, (re.IGNORECASE if ignore_case else 0) | re.DOTALL) is not None


def _date(value: str) -> datetime:
    text = value.strip()
    if re.fullmatch(r"\d+", text):  # epoch seconds are allowed too
        return datetime.fromtimestamp(int(text), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class UnsupportedCondition(ValueError):
    """A condition operator the sandbox does not know; the statement then fails closed."""


def _compare(operator: str, expected: str, actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return expected == actual
    if operator == "StringEqualsIgnoreCase":
        return expected.lower() == actual.lower()
    if operator in ("StringLike", "ArnLike"):
        return _wildcard(expected, actual)
    if operator.startswith("Date"):
        left, right = _date(actual), _date(expected)
        return {
            "DateEquals": left == right,
            "DateLessThan": left < right,
            "DateLessThanEquals": left <= right,
            "DateGreaterThan": left > right,
            "DateGreaterThanEquals": left >= right,
        }[operator]
    if operator.startswith("Numeric"):
        left_n, right_n = float(actual), float(expected)
        return {
            "NumericEquals": left_n == right_n,
            "NumericLessThan": left_n < right_n,
            "NumericLessThanEquals": left_n <= right_n,
            "NumericGreaterThan": left_n > right_n,
            "NumericGreaterThanEquals": left_n >= right_n,
        }[operator]
    if operator == "Bool":
        return expected.lower() == actual.lower()
    raise UnsupportedCondition(operator)


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "DateNotEquals": "DateEquals",
    "NumericNotEquals": "NumericEquals",
}
_KNOWN = {
    "StringEquals",
    "StringLike",
    "StringEqualsIgnoreCase",
    "ArnEquals",
    "ArnLike",
    "DateEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "NumericEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "Bool",
}


def condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    """Whether one `operator: {key: expected}` clause holds for the request context."""
    set_operator = None
    if ":" in operator:
        set_operator, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    lowered = {k.lower(): v for k, v in context.items()}
    actual = lowered.get(key.lower())
    expected_values = [
        str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(expected)
    ]
    if operator == "Null":
        wants_missing = any(value.lower() == "true" for value in expected_values)
        return (actual is None) == wants_missing
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    if base not in _KNOWN:
        raise UnsupportedCondition(operator)
    if actual is None:
        if if_exists or set_operator == "ForAllValues":
            return True
        return negated
    try:
        matched = any(_compare(base, value, actual) for value in expected_values)
    except ValueError:  # a date or number that does not parse never matches
        matched = False
    return not matched if negated else matched


def conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Whether every condition of the statement holds (no Condition block: True)."""
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, dict):
        raise UnsupportedCondition("Condition is not an object")
    for operator, clauses in conditions.items():
        if not isinstance(clauses, dict):
            raise UnsupportedCondition(f"{operator} is not an object")
        for key, expected in clauses.items():
            if not condition_holds(str(operator), str(key), expected, context):
                return False
    return True


def install() -> None:
    """Replace moto's statement check with the IAM-conformant one above (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        statement = self._statement
        if "NotAction" in statement:
            concerned = not self._check_element_matches("NotAction", action)
        else:
            concerned = bool(self._check_element_matches("Action", action))
        if not concerned:
            return PermissionResult.NEUTRAL
        if self.is_unknown_principal(statement.get("Principal")):
            return PermissionResult.NEUTRAL
        if principal and not self._check_principal(principal):
            return PermissionResult.NEUTRAL
        context = {**current_context(), **(incoming_condition_values or {})}
        deny = statement.get("Effect") == "Deny"
        try:
            holds = conditions_hold(statement, context)
        except UnsupportedCondition:
            # Fail closed: an unknown Deny condition denies, an unknown Allow allows nothing.
            holds = deny
        if not holds:
            return PermissionResult.NEUTRAL
        if statement.get("Resource") or statement.get("NotResource"):
            if "NotResource" in statement:
                matches = not self._check_element_matches("NotResource", resource)
            else:
                matches = bool(self._check_element_matches("Resource", resource))
            if not matches:
                return PermissionResult.NEUTRAL
        return PermissionResult.DENIED if deny else PermissionResult.PERMITTED

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
    _installed = True
