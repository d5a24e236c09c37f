"""Scopes of automation tokens and the staff capability each one needs from the token's owner.

A scope only narrows: a token can do what its scopes name *and* its owner may do at the time of
the call (apps/core/capabilities.py), so demoting the owner demotes every token they own.
"""

from __future__ import annotations

from apps.core.capabilities import ACCESS_ADMIN, AUDIT_READ, INTEGRATION_ADMIN

# Scope -> the capability its owner must hold ("" = none: the service decides, as for reviews,
# where the reviewer rules of the role apply to the owner like anywhere else).
SCOPES: dict[str, str] = {
    "roles:read": ACCESS_ADMIN,
    "roles:write": ACCESS_ADMIN,
    "users:read": ACCESS_ADMIN,
    "users:write": ACCESS_ADMIN,
    "integrations:read": INTEGRATION_ADMIN,
    "integrations:write": INTEGRATION_ADMIN,
    "webhooks:write": INTEGRATION_ADMIN,
    "requests:review": "",
    "audit:read": AUDIT_READ,
}


def unknown_scopes(scopes: list[str]) -> list[str]:
    """The names in ``scopes`` that are not scopes, sorted."""
    return sorted(set(scopes) - set(SCOPES))


def capability_for(scope: str) -> str:
    """The capability ``scope`` needs from the owner ("" when none)."""
    return SCOPES[scope]
