"""Pure single sign-on mapping: claims to traits, claims to roles, usernames and e-mail domains.

No database and no network here, so every rule is tested with plain data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.accounts.usernames import username_problem
from apps.core.registry import ResourceError, require_mapping, require_str_list
from rbac.labels import ValueMatcher, compile_value

__all__ = [
    "PROTOCOL_CLAIMS",
    "ClaimRule",
    "ConnectorSpec",
    "email_domain_refusal",
    "normalize_claims",
    "parse_connector_spec",
    "roles_for_claims",
    "sanitize_username",
]

# JWT and protocol bookkeeping, not facts about the person: never stored as traits.
PROTOCOL_CLAIMS = frozenset(
    {
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
        "nonce",
        "at_hash",
        "c_hash",
        "azp",
        "auth_time",
        "jti",
        "sid",
    }
)
# Bounds that keep a hostile or misconfigured IdP from bloating every user row.
MAX_CLAIMS = 200
MAX_VALUES_PER_CLAIM = 256
MAX_VALUE_LENGTH = 2048
MAX_CLAIM_NAME_LENGTH = 256
USERNAME_MAX_LENGTH = 150
_USERNAME_RE = re.compile(r"[A-Za-z0-9@.+_-]{1,150}\Z", re.ASCII)
_USERNAME_BAD_RUN = re.compile(r"[^A-Za-z0-9@.+_-]+", re.ASCII)
# Keys of the reference system's OIDC connector that Rolegate reads from the environment.
_ENVIRONMENT_KEYS = {
    "issuer_url": "ROLEGATE_OIDC_ISSUER",
    "client_id": "ROLEGATE_OIDC_CLIENT_ID",
    "client_secret": "ROLEGATE_OIDC_CLIENT_SECRET",
    "scope": "ROLEGATE_OIDC_SCOPES",
    "username_claim": "ROLEGATE_OIDC_USERNAME_CLAIM",
}


def _scalar_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


def _claim_values(value: object) -> list[str]:
    items: Iterable[object] = value if isinstance(value, list | tuple) else [value]
    result: list[str] = []
    for item in items:
        text = _scalar_text(item)
        # Over-long values are dropped, not cut: a truncated ARN could match a shorter pattern.
        if text is None or len(text) > MAX_VALUE_LENGTH or text in result:
            continue
        result.append(text)
        if len(result) >= MAX_VALUES_PER_CLAIM:
            break
    return result


def _usable_claim_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_CLAIM_NAME_LENGTH
        and not any(ord(char) < 32 or ord(char) == 127 for char in name)
    )


def normalize_claims(
    claims: Mapping[str, Any], allowlist: Sequence[str] = ()
) -> dict[str, list[str]]:
    """Turn claims into traits: lists of strings, protocol claims dropped, allow-list applied.

    Strings stay as they are, booleans become "true"/"false", numbers their decimal text, and a
    list keeps its scalar items; objects, nulls and nested lists are dropped.
    """
    allowed = set(allowlist)
    traits: dict[str, list[str]] = {}
    for name in sorted(claims, key=str):
        if not _usable_claim_name(name) or name in PROTOCOL_CLAIMS:
            continue
        if allowed and name not in allowed:
            continue
        values = _claim_values(claims[name])
        if values:
            traits[name] = values
        if len(traits) >= MAX_CLAIMS:
            break
    return traits


def sanitize_username(raw: object) -> str | None:
    """Make a username claim fit the user kind's pattern, or None when nothing usable is left.

    Accents are folded ("José" -> "Jose"), every other disallowed run becomes "_", and the
    result is cut to 150 characters.
    """
    text = _scalar_text(raw)
    if text is None:
        return None
    folded = unicodedata.normalize("NFKD", text.strip())
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    candidate = _USERNAME_BAD_RUN.sub("_", folded).strip("_")[:USERNAME_MAX_LENGTH]
    # Reserved names (Rolegate's own certificate CNs) are never given to a signed-in user.
    return candidate if not username_problem(candidate) else None


def email_domain_refusal(claims: Mapping[str, Any], allowed_domains: Sequence[str]) -> str | None:
    """Return why the e-mail claim is not acceptable (None when it is, or no domain is required).

    The domain must equal one of ``allowed_domains`` (case-insensitive, no subdomains), and an
    ``email_verified`` claim, when the IdP sends one, must be true.
    """
    if not allowed_domains:
        return None
    email = claims.get("email")
    if not isinstance(email, str) or email.count("@") != 1:
        return "the identity provider sent no e-mail address, and e-mail domains are restricted"
    verified = claims.get("email_verified")
    if verified is not None and verified is not True and str(verified).lower() != "true":
        return f"e-mail address {email!r} is not verified by the identity provider"
    domain = email.rsplit("@", 1)[1].strip().rstrip(".").lower()
    if domain not in {d.strip().lower().rstrip(".") for d in allowed_domains}:
        return f"e-mail domain {domain!r} is not allowed"
    return None


@dataclass(frozen=True)
class ClaimRule:
    """One ``claims_to_roles`` entry: when claim ``claim`` has a value matching ``value``."""

    claim: str
    value: str
    roles: tuple[str, ...]
    matcher: ValueMatcher

    def matches(self, claims: Mapping[str, Sequence[str]]) -> bool:
        """True when any value of the claim matches the rule's value (literal, glob or regex)."""
        return any(self.matcher.matches(value) for value in claims.get(self.claim, ()))

    def to_dict(self) -> dict[str, Any]:
        """The rule as stored and printed."""
        return {"claim": self.claim, "value": self.value, "roles": list(self.roles)}


@dataclass(frozen=True)
class ConnectorSpec:
    """A validated ``oidc_connector`` spec."""

    display: str
    claims_to_roles: tuple[ClaimRule, ...]

    def to_dict(self) -> dict[str, Any]:
        """The spec as stored and printed (``get`` output feeds ``create --force``)."""
        spec: dict[str, Any] = {"claims_to_roles": [r.to_dict() for r in self.claims_to_roles]}
        if self.display:
            spec["display"] = self.display
        return spec

    @property
    def role_names(self) -> list[str]:
        """Every role name the rules can grant, sorted."""
        return sorted({name for rule in self.claims_to_roles for name in rule.roles})


def _parse_rule(raw: object, where: str) -> ClaimRule:
    rule = require_mapping(raw, field=where)
    unknown = set(rule) - {"claim", "value", "roles"}
    if unknown:
        raise ResourceError(
            f"unknown field(s): {', '.join(sorted(map(str, unknown)))}", field=where
        )
    claim = rule.get("claim")
    if not _usable_claim_name(claim):
        raise ResourceError("must be a claim name (a non-empty string)", field=f"{where}.claim")
    value = rule.get("value")
    if not isinstance(value, str) or not value:
        raise ResourceError(
            "must be a non-empty string: a literal, a glob like 'aws-*', or a '^regex$'",
            field=f"{where}.value",
        )
    try:
        matcher = compile_value(value)
    except ValueError as error:
        raise ResourceError(str(error), field=f"{where}.value") from None
    roles = require_str_list(rule.get("roles"), field=f"{where}.roles")
    if not roles or not all(name.strip() for name in roles):
        raise ResourceError("must list at least one role name", field=f"{where}.roles")
    assert isinstance(claim, str)
    return ClaimRule(claim=claim, value=value, roles=tuple(dict.fromkeys(roles)), matcher=matcher)


def parse_connector_spec(raw: object) -> ConnectorSpec:
    """Validate an ``oidc_connector`` spec; a ResourceError names the bad field."""
    spec = require_mapping(raw, field="spec")
    for key, variable in _ENVIRONMENT_KEYS.items():
        if key in spec:
            raise ResourceError(
                f"is configured by the environment variable {variable}, not in the resource",
                field=f"spec.{key}",
            )
    unknown = set(spec) - {"claims_to_roles", "display"}
    if unknown:
        raise ResourceError(
            f"unknown field(s): {', '.join(sorted(map(str, unknown)))}", field="spec"
        )
    display = spec.get("display") or ""
    if not isinstance(display, str):
        raise ResourceError("must be a string", field="spec.display")
    rules_raw = spec.get("claims_to_roles") or []
    if not isinstance(rules_raw, list):
        raise ResourceError("must be a list of {claim, value, roles}", field="spec.claims_to_roles")
    rules = tuple(
        _parse_rule(item, f"spec.claims_to_roles[{index}]") for index, item in enumerate(rules_raw)
    )
    return ConnectorSpec(display=display.strip(), claims_to_roles=rules)


def roles_for_claims(rules: Sequence[ClaimRule], claims: Mapping[str, Sequence[str]]) -> list[str]:
    """The role names the rules grant for these (normalized) claims, sorted and unique."""
    granted: set[str] = set()
    for rule in rules:
        if rule.matches(claims):
            granted.update(rule.roles)
    return sorted(granted)
