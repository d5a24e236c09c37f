"""The IAM documents enrollment creates, shared by the script, the template and the manual steps."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

OWNER_TAG_INTEGRATION = "rolegate.dev/integration"
OWNER_TAG_CLUSTER = "rolegate.dev/cluster"
OWNER_TAG_ORIGIN = "rolegate.dev/origin"
OWNER_ORIGIN = "integration_awsrolesanywhere"
INLINE_POLICY_NAME = "RolegateRolesAnywhereProfileSync"

# The default names are these prefixes plus "-<integration name>", so two integrations in one
# account never fight over a resource (see default_names()).
DEFAULT_TRUST_ANCHOR_NAME = "RolegateTrustAnchor"
DEFAULT_SYNC_ROLE_NAME = "RolegateProfileSync"
DEFAULT_SYNC_PROFILE_NAME = "RolegateProfileSync"
IAM_ROLE_NAME_MAX = 64

# IAM role names: 1-64 of [\w+=,.@-]; Roles Anywhere names: 1-255 of [ a-zA-Z0-9-_]. Rolegate takes
# the intersection without spaces so every name is safe in a shell word and a URL.
_IAM_ROLE_NAME_RE = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}\Z", re.ASCII)
_RA_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}\Z", re.ASCII)

SYNC_ACTIONS = (
    "rolesanywhere:ListProfiles",
    "rolesanywhere:ListTagsForResource",
    "rolesanywhere:ImportCrl",
    # The sync replaces an imported CRL when Rolegate revokes more certificates.
    "rolesanywhere:ListCrls",
    "rolesanywhere:UpdateCrl",
    "iam:GetRole",
)

# The live-session kill switch (integration `session_revocation: {enabled: true}`): the sync role
# keeps one inline policy, RolegateRevokedSessions, on the roles the profiles list. IAM has no
# condition key for an inline policy's name, so the tightest scope IAM allows is "roles" (not
# users, groups or managed policies); operators who keep profile roles under a path can narrow
# the Resource to arn:aws:iam::ACCOUNT:role/PATH/*.
REVOCATION_ACTIONS = ("iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy")
REVOCATION_RESOURCE = "arn:*:iam::*:role/*"
REVOCATION_SCOPE_NOTE = (
    "Session revocation: iam:GetRolePolicy, iam:PutRolePolicy and iam:DeleteRolePolicy on IAM "
    "roles only (IAM cannot limit them to one inline policy name); Rolegate only ever writes the "
    "policy RolegateRevokedSessions, on roles listed by the account's Roles Anywhere profiles."
)


def _suffixed(prefix: str, integration: str, limit: int) -> str:
    """``prefix-integration`` in the characters both AWS name rules allow, at most ``limit``
    long; a name cut to fit keeps a short digest of the whole so two long names still differ."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", integration) or "x"
    name = f"{prefix}-{safe}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(integration.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"


def default_names(integration: str) -> dict[str, str]:
    """The default AWS resource names of one integration: unique per integration, so a second
    integration in the same account works with the defaults."""
    return {
        "trust_anchor": _suffixed(DEFAULT_TRUST_ANCHOR_NAME, integration, 255),
        "sync_role": _suffixed(DEFAULT_SYNC_ROLE_NAME, integration, IAM_ROLE_NAME_MAX),
        "sync_profile": _suffixed(DEFAULT_SYNC_PROFILE_NAME, integration, 255),
    }


def is_rolegate_owned(tags: dict[str, str] | None) -> bool:
    """True for a resource the enrollment created (any integration's): Rolegate's own sync
    profile is never imported as an app, whichever integration lists it."""
    return bool(tags) and (tags or {}).get(OWNER_TAG_ORIGIN) == OWNER_ORIGIN


@dataclass(frozen=True)
class EnrollmentNames:
    """The names of the AWS resources enrollment creates for one integration; a blank name is
    the integration's default (``default_names``)."""

    integration: str
    trust_anchor: str = ""
    sync_role: str = ""
    sync_profile: str = ""

    def __post_init__(self) -> None:
        for key, value in default_names(self.integration).items():
            if not getattr(self, key):
                object.__setattr__(self, key, value)

    def errors(self) -> dict[str, str]:
        """Field name → problem, empty when every name is valid."""
        problems: dict[str, str] = {}
        if not _RA_NAME_RE.match(self.trust_anchor):
            problems["trust_anchor"] = "1-255 letters, digits, '-' or '_'"
        if not _IAM_ROLE_NAME_RE.match(self.sync_role):
            problems["sync_role"] = "1-64 letters, digits or + = , . @ _ -"
        if not _RA_NAME_RE.match(self.sync_profile):
            problems["sync_profile"] = "1-255 letters, digits, '-' or '_'"
        return problems


def sync_role_trust_policy(trust_anchor_arn: str) -> dict[str, Any]:
    """Trust policy of the sync role: Roles Anywhere may assume it, only through our anchor."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "rolesanywhere.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
                "Condition": {"ArnEquals": {"aws:SourceArn": trust_anchor_arn}},
            }
        ],
    }


def sync_role_permissions_policy(*, session_revocation: bool = False) -> dict[str, Any]:
    """The sync role's inline policy: list profiles and tags, upload the CRL, read roles; with
    session revocation, also manage the revocation policy on roles (see REVOCATION_SCOPE_NOTE)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RolesAnywhereProfileSync",
            "Effect": "Allow",
            "Action": list(SYNC_ACTIONS),
            "Resource": ["*"],
        }
    ]
    if session_revocation:
        statements.append(
            {
                "Sid": "RolegateSessionRevocation",
                "Effect": "Allow",
                "Action": list(REVOCATION_ACTIONS),
                "Resource": [REVOCATION_RESOURCE],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def target_role_trust_policy(trust_anchor_arn: str | None = None) -> dict[str, Any]:
    """Trust policy for the IAM roles users assume (shown in the manual steps)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
    }
    if trust_anchor_arn:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": trust_anchor_arn}}
    return {"Version": "2012-10-17", "Statement": [statement]}
