"""The one strict parser for the ARNs Rolegate handles: trust anchors, profiles, IAM roles and
STS assumed roles.

Everything is ASCII-only and anchored (`fullmatch` plus `\\Z`), so look-alike digits, trailing
newlines and stray whitespace are refused rather than normalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from awsra.partitions import PARTITIONS, partition_for_region

__all__ = [
    "ASSUMED_ROLE_ARN_RE",
    "PROFILE_ARN_RE",
    "ROLE_ARN_RE",
    "TRUST_ANCHOR_ARN_RE",
    "ArnError",
    "AssumedRoleArn",
    "ProfileArn",
    "RoleArn",
    "TrustAnchorArn",
    "is_valid_role_arn",
    "parse_assumed_role_arn",
    "parse_profile_arn",
    "parse_role_arn",
    "parse_trust_anchor_arn",
]

_PARTITION = r"(?P<partition>aws|aws-us-gov|aws-cn)"
_ACCOUNT = r"(?P<account_id>[0-9]{12})"
_REGION = r"(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})"
# Roles Anywhere resource ids are lowercase UUIDs.
_UUID = r"(?P<resource_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
# IAM name characters (ASCII `\w` plus +=,.@-). IAM also allows other printable characters in
# paths; Rolegate accepts only these because role ARNs flow into RBAC wildcards and URLs.
_IAM_CHARS = r"[\w+=,.@-]"
ROLE_NAME_MAX = 64
ROLE_PATH_MAX = 512

# The lookahead bounds the path ("/" + segments + "/") to ROLE_PATH_MAX characters.
ROLE_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:iam::{_ACCOUNT}:role"
    rf"(?=/(?:[\w+=,.@/-]{{0,{ROLE_PATH_MAX - 2}}}/)?{_IAM_CHARS}{{1,{ROLE_NAME_MAX}}}\Z)"
    rf"(?P<path>/(?:{_IAM_CHARS}+/)*)(?P<name>{_IAM_CHARS}{{1,{ROLE_NAME_MAX}}})\Z",
    re.ASCII,
)
TRUST_ANCHOR_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:rolesanywhere:{_REGION}:{_ACCOUNT}:trust-anchor/{_UUID}\Z", re.ASCII
)
PROFILE_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:rolesanywhere:{_REGION}:{_ACCOUNT}:profile/{_UUID}\Z", re.ASCII
)
ASSUMED_ROLE_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:sts::{_ACCOUNT}:assumed-role/"
    rf"(?P<role_name>{_IAM_CHARS}{{1,{ROLE_NAME_MAX}}})/(?P<session_name>{_IAM_CHARS}{{2,64}})\Z",
    re.ASCII,
)


class ArnError(ValueError):
    """An ARN that is malformed or not of the expected kind."""


@dataclass(frozen=True)
class TrustAnchorArn:
    """A parsed Roles Anywhere trust anchor ARN."""

    partition: str
    region: str
    account_id: str
    resource_id: str
    arn: str

    def __str__(self) -> str:
        return self.arn


@dataclass(frozen=True)
class ProfileArn:
    """A parsed Roles Anywhere profile ARN."""

    partition: str
    region: str
    account_id: str
    resource_id: str
    arn: str

    def __str__(self) -> str:
        return self.arn


@dataclass(frozen=True)
class RoleArn:
    """A parsed IAM role ARN; `path` is "/" or "/a/b/", `name` the role name."""

    partition: str
    account_id: str
    path: str
    name: str
    arn: str

    def __str__(self) -> str:
        return self.arn


@dataclass(frozen=True)
class AssumedRoleArn:
    """A parsed STS assumed-role ARN (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`)."""

    partition: str
    account_id: str
    role_name: str
    session_name: str
    arn: str = ""

    def __str__(self) -> str:
        return self.arn


def _shown(value: str) -> str:
    text = value if len(value) <= 120 else value[:117] + "..."
    return repr(text)


def _require_str(value: object, kind: str) -> str:
    if not isinstance(value, str):
        raise ArnError(f"{kind} ARN must be a string, got {type(value).__name__}")
    if not value:
        raise ArnError(f"{kind} ARN is empty")
    return value


def _diagnose(value: str, kind: str, service: str, example: str) -> str:
    """Say what is wrong with an ARN in terms an operator can act on."""
    parts = value.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return f"{_shown(value)} is not a valid {kind} ARN (expected e.g. {example})"
    partition, svc, region, account = parts[1], parts[2], parts[3], parts[4]
    if partition not in PARTITIONS:
        return f"{kind} ARN {_shown(value)} has unknown partition {partition!r}"
    if svc != service:
        return f"{_shown(value)} is a {svc!r} ARN, but a {kind} ARN is expected (e.g. {example})"
    if not re.fullmatch(r"[0-9]{12}", account, re.ASCII):
        return f"{kind} ARN {_shown(value)} has an invalid account id (need 12 digits)"
    if service == "rolesanywhere" and not re.fullmatch(_REGION, region, re.ASCII):
        return f"{kind} ARN {_shown(value)} has an invalid region {region!r}"
    if service != "rolesanywhere" and region:
        return f"{kind} ARN {_shown(value)} must have an empty region field"
    return f"{kind} ARN {_shown(value)} is malformed (expected e.g. {example})"


def _check_region_partition(value: str, kind: str, partition: str, region: str) -> None:
    try:
        expected = partition_for_region(region).name
    except ValueError as exc:
        raise ArnError(f"{kind} ARN {_shown(value)}: {exc}") from None
    if expected != partition:
        raise ArnError(
            f"{kind} ARN {_shown(value)} names partition {partition!r} "
            f"but region {region!r} is in {expected!r}"
        )


def _parse_rolesanywhere(
    value: str, kind: str, pattern: re.Pattern[str], resource: str
) -> tuple[str, re.Match[str]]:
    """Match a Roles Anywhere ARN of one resource type; return the text and the match."""
    text = _require_str(value, kind)
    match = pattern.fullmatch(text)
    if match is None:
        example = f"arn:aws:rolesanywhere:us-east-1:123456789012:{resource}/<uuid>"
        raise ArnError(_diagnose(text, kind, "rolesanywhere", example))
    _check_region_partition(text, kind, match["partition"], match["region"])
    return text, match


def parse_trust_anchor_arn(value: str) -> TrustAnchorArn:
    """Parse `arn:<partition>:rolesanywhere:<region>:<account>:trust-anchor/<uuid>`."""
    text, match = _parse_rolesanywhere(value, "trust anchor", TRUST_ANCHOR_ARN_RE, "trust-anchor")
    return TrustAnchorArn(
        partition=match["partition"],
        region=match["region"],
        account_id=match["account_id"],
        resource_id=match["resource_id"],
        arn=text,
    )


def parse_profile_arn(value: str) -> ProfileArn:
    """Parse `arn:<partition>:rolesanywhere:<region>:<account>:profile/<uuid>`."""
    text, match = _parse_rolesanywhere(value, "profile", PROFILE_ARN_RE, "profile")
    return ProfileArn(
        partition=match["partition"],
        region=match["region"],
        account_id=match["account_id"],
        resource_id=match["resource_id"],
        arn=text,
    )


def parse_role_arn(value: str) -> RoleArn:
    """Parse `arn:<partition>:iam::<account>:role/<path/><name>` (path optional)."""
    kind = "IAM role"
    text = _require_str(value, kind)
    match = ROLE_ARN_RE.fullmatch(text)
    if match is None:
        example = "arn:aws:iam::123456789012:role/Name or .../role/path/Name"
        message = _diagnose(text, kind, "iam", example)
        resource = text.split(":", 5)[-1] if text.count(":") >= 5 else ""
        if message.endswith(f"(expected e.g. {example})") and resource.startswith("role/"):
            name = resource.rsplit("/", 1)[-1]
            if not name:
                message = f"IAM role ARN {_shown(text)} has an empty role name"
            elif len(name) > ROLE_NAME_MAX:
                message = f"IAM role ARN {_shown(text)} has a role name over {ROLE_NAME_MAX} chars"
            else:
                message = (
                    f"IAM role ARN {_shown(text)} has characters outside [A-Za-z0-9_+=,.@-] "
                    f"or an empty path segment, or a path over {ROLE_PATH_MAX} chars"
                )
        raise ArnError(message)
    return RoleArn(
        partition=match["partition"],
        account_id=match["account_id"],
        path=match["path"],
        name=match["name"],
        arn=text,
    )


def parse_assumed_role_arn(value: str) -> AssumedRoleArn:
    """Parse `arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>`."""
    kind = "assumed-role"
    text = _require_str(value, kind)
    match = ASSUMED_ROLE_ARN_RE.fullmatch(text)
    if match is None:
        raise ArnError(
            _diagnose(
                text, kind, "sts", "arn:aws:sts::123456789012:assumed-role/RoleName/session-name"
            )
        )
    return AssumedRoleArn(
        partition=match["partition"],
        account_id=match["account_id"],
        role_name=match["role_name"],
        session_name=match["session_name"],
        arn=text,
    )


def is_valid_role_arn(value: object) -> bool:
    """Return True if `value` is a string that is a well-formed IAM role ARN."""
    return isinstance(value, str) and ROLE_ARN_RE.fullmatch(value) is not None
