"""Role trust-policy evaluation for CreateSession (moto's evaluator fails on Service principals).

Supports what Roles Anywhere trust policies use: Allow/Deny statements, `Principal`
(`Service`, `AWS: "*"`, `"*"`) and `NotPrincipal`-free policies, `Action`/`NotAction` with
wildcards, and conditions with StringEquals/StringLike/ArnEquals/ArnLike, their `Not` forms,
`StringEqualsIgnoreCase`, the `IfExists` suffix and `ForAnyValue:`/`ForAllValues:` prefixes.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

SERVICE_PRINCIPAL = "rolesanywhere.amazonaws.com"
REQUIRED_ACTIONS = ("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity")


class TrustPolicyDenied(Exception):
    """The trust policy does not let Roles Anywhere assume the role; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool) -> bool:
    # IAM wildcards: * any run, ? one character; nothing else is special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.IGNORECASE if ignore_case else 0
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def _principal_matches(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if SERVICE_PRINCIPAL in _as_list(principal.get("Service")):
        return True
    return "*" in _as_list(principal.get("AWS"))


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            _wildcard(p, action, ignore_case=True) for p in _as_list(statement["NotAction"])
        )
    return any(_wildcard(p, action, ignore_case=True) for p in _as_list(statement.get("Action")))


def _compare(operator: str, expected: str, actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return expected == actual
    if operator == "StringEqualsIgnoreCase":
        return expected.lower() == actual.lower()
    if operator in ("StringLike", "ArnLike"):
        if operator == "ArnLike":
            return _arn_like(expected, actual)
        return _wildcard(expected, actual, ignore_case=False)
    raise TrustPolicyDenied(f"unsupported condition operator {operator}")


def _arn_like(pattern: str, value: str) -> bool:
    # ARN matching is per colon-separated field for the first five fields.
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != len(value_parts):
        return fnmatch.fnmatchcase(value, pattern)
    return all(
        _wildcard(p, v, ignore_case=False) for p, v in zip(pattern_parts, value_parts, strict=True)
    )


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    set_operator = None
    if ":" in operator:
        set_operator, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    lowered = {k.lower(): v for k, v in context.items()}
    actual = lowered.get(key.lower())
    expected_values = [str(v) for v in _as_list(expected)]
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    if actual is None:
        if if_exists or set_operator == "ForAllValues":
            return True
        # A negated operator on a missing key is true in IAM; a positive one is false.
        return negated
    matched = any(_compare(base, e, actual) for e in expected_values)
    return not matched if negated else matched


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> tuple[bool, str]:
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, dict):
        return False, "Condition block is not an object"
    for operator, clauses in conditions.items():
        if not isinstance(clauses, dict):
            return False, f"Condition {operator} is not an object"
        for key, expected in clauses.items():
            if not _condition_holds(operator, key, expected, context):
                shown = context.get(key)
                for k, v in context.items():
                    if k.lower() == key.lower():
                        shown = v
                return False, (
                    f"condition {operator} on {key} not met (value: {shown!r}, "
                    f"expected: {expected!r})"
                )
    return True, ""


def evaluate(policy: Mapping[str, Any], context: Mapping[str, str], role_arn: str) -> None:
    """Raise TrustPolicyDenied unless the policy allows all three Roles Anywhere actions."""
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise TrustPolicyDenied(f"trust policy of {role_arn} has no statements")
    for action in REQUIRED_ACTIONS:
        allowed = False
        failed_reason = ""
        for statement in statements:
            if not isinstance(statement, dict):
                continue
            if not _principal_matches(statement.get("Principal")):
                continue
            if not _action_matches(statement, action):
                continue
            holds, reason = _conditions_hold(statement, context)
            effect = statement.get("Effect")
            if effect == "Deny" and holds:
                raise TrustPolicyDenied(
                    f"trust policy of {role_arn} explicitly denies {SERVICE_PRINCIPAL} {action}"
                )
            if effect == "Allow":
                if holds:
                    allowed = True
                elif not failed_reason:
                    failed_reason = reason
        if not allowed:
            detail = f": {failed_reason}" if failed_reason else ""
            raise TrustPolicyDenied(
                f"trust policy of {role_arn} does not allow {SERVICE_PRINCIPAL} to perform "
                f"{action}{detail}"
            )
