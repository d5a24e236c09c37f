"""Least-privilege staff: what each capability is, who holds it, and the groups that carry them.

A capability is a Django permission of ``core.Capability``; the migration that introduced them
creates one group per capability (with the Django admin permissions that go with it) and put
every staff user that existed then into all three, so upgrades changed nobody's access. New staff
users get nothing until they join a group. Superusers hold every capability, and only they may
rotate the CA. Every capability also needs ``is_staff``: clearing it removes them all.
"""

from __future__ import annotations

from apps.core.identity import Actor, SystemActor

AUDIT_READ = "audit_read"
ACCESS_ADMIN = "access_admin"
INTEGRATION_ADMIN = "integration_admin"
STAFF_CAPABILITIES = (AUDIT_READ, ACCESS_ADMIN, INTEGRATION_ADMIN)

# Group name -> (capability, Django admin permissions "app_label.codename" that go with it).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "auditor": (AUDIT_READ, ("audit.view_auditevent",)),
    "access admin": (
        ACCESS_ADMIN,
        (
            "accounts.view_user",
            "accounts.change_user",
            "accounts.view_oidcconnector",
            "access.view_role",
            "access.add_role",
            "access.change_role",
            "access.delete_role",
            "access.view_accessrequest",
            "access.view_accessreview",
            "access.view_accessgrant",
            "api.view_apitoken",
            "api.change_apitoken",
            "api.view_deviceauthorization",
        ),
    ),
    "integration admin": (
        INTEGRATION_ADMIN,
        (
            "integrations.view_integration",
            "integrations.change_integration",
            "integrations.view_syncrun",
            "resources.view_awsapp",
            "authority.view_certificateauthority",
            "authority.view_leafcertificate",
        ),
    ),
}


def has_capability(user: Actor, capability: str) -> bool:
    """True when an active staff user holds ``capability`` (superusers hold all)."""
    if (
        user is None
        or isinstance(user, SystemActor)
        or not getattr(user, "is_authenticated", False)
        or not user.is_active
    ):
        return False
    if capability == "superuser":
        return bool(user.is_superuser)
    if not user.is_staff:
        return False
    if capability == "staff":
        return True
    if capability not in STAFF_CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    return bool(user.is_superuser or user.has_perm(f"core.{capability}"))
