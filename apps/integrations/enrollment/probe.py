"""The wizard's "Test configuration": sign in as Rolegate with three ARNs and look at the account.

It lists every Roles Anywhere profile (the sync profile hidden) with its roles and tags, reads
each profile role with `iam:GetRole` and warns when its trust policy would not let Roles Anywhere
assume it through this trust anchor. AWS errors come back in plain words with the likely fix.
Nothing is written to the database except the audited sync certificate of the sign-in.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from django.conf import settings

import awsra
from apps.integrations import aws
from awsra.arn import ArnError, parse_role_arn, parse_trust_anchor_arn
from awsra.errors import (
    AccessDeniedError,
    AwsError,
    ResourceNotFoundError,
    SignatureError,
    TransientError,
    ValidationError,
)

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

log = logging.getLogger(__name__)

SERVICE_PRINCIPAL = "rolesanywhere.amazonaws.com"
# Bounds that keep "Test configuration" a bounded web request in a large account (tag reads are
# paced at ROLEGATE_PROFILE_SYNC_RATE, 1/s by default, like the sync's); the sync has no limits.
MAX_PROFILES = 500
MAX_TAG_LOOKUPS = 20
MAX_ROLE_LOOKUPS = 50


@dataclass(frozen=True)
class PlainError:
    """An AWS failure explained: what happened, the likely fix, and AWS's own words."""

    title: str
    fix: str
    detail: str = ""


@dataclass(frozen=True)
class ProbedProfile:
    """One profile as the wizard shows it, with what looks wrong about it."""

    name: str
    arn: str
    enabled: bool
    role_arns: list[str]
    tags: dict[str, str] | None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of a test: either an error, or the profiles (sync profile excluded)."""

    ok: bool
    error: PlainError | None = None
    profiles: list[ProbedProfile] = field(default_factory=list)
    sync_profile_found: bool = False
    accepts_role_session_name: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def warning_count(self) -> int:
        """How many warnings the profiles carry in all."""
        return sum(len(profile.warnings) for profile in self.profiles)

    def as_data(self) -> dict[str, Any]:
        """A JSON-ready form (kept in the wizard's session state)."""
        return asdict(self)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ProbeResult:
        """Rebuild from `as_data()` output."""
        error = data.get("error")
        return cls(
            ok=bool(data.get("ok")),
            error=PlainError(**error) if isinstance(error, dict) else None,
            profiles=[ProbedProfile(**item) for item in data.get("profiles") or []],
            sync_profile_found=bool(data.get("sync_profile_found")),
            accepts_role_session_name=bool(data.get("accepts_role_session_name")),
            notes=list(data.get("notes") or []),
        )


# -- AWS errors in plain words ---------------------------------------------------------------


def explain_sign_in_error(error: Exception) -> PlainError:
    """Explain why CreateSession (signing in as Rolegate) failed."""
    detail = str(error)
    lowered = detail.lower()
    if isinstance(error, ResourceNotFoundError):
        return PlainError(
            "AWS does not know this trust anchor or profile.",
            "Copy the ARNs again from the script output, and check that the script ran in the "
            "same AWS account and region as the ARNs say.",
            detail,
        )
    if isinstance(error, AccessDeniedError):
        if "signature" in lowered or "certificate" in lowered:
            fix = (
                "The trust anchor does not trust Rolegate's current CA. Run the set-up script "
                "again (it updates the trust anchor with the current CA bundle)."
            )
        elif "disabled" in lowered:
            fix = "Enable the trust anchor and the sync profile in the IAM Roles Anywhere console."
        elif "not in profile" in lowered:
            fix = "Add the sync role to the sync profile, or check that you pasted the right role."
        elif "trust policy" in lowered or "assume role" in lowered or "does not exist" in lowered:
            fix = (
                "The sync role's trust policy must allow rolesanywhere.amazonaws.com "
                "(sts:AssumeRole, sts:SetSourceIdentity, sts:TagSession) through this trust "
                "anchor. Running the set-up script again fixes it."
            )
        elif "rolesessionname" in lowered.replace(" ", ""):
            fix = "Turn on 'accept role session name' on the sync profile, or re-run the script."
        else:
            fix = (
                "Check that the three ARNs belong together: the profile lists the role, and the "
                "trust anchor holds Rolegate's CA bundle. Re-running the script repairs all three."
            )
        return PlainError("AWS refused to let Rolegate sign in with these ARNs.", fix, detail)
    if isinstance(error, ValidationError):
        return PlainError(
            "AWS rejected the sign-in request as invalid.",
            "Check that the trust anchor, profile and role are in the same account and region.",
            detail,
        )
    if isinstance(error, TransientError):
        return PlainError(
            "AWS could not be reached, or was busy.",
            "Try again in a minute. If it keeps failing, check that this server can reach AWS "
            "(proxy, firewall, AWS_ENDPOINT_URL).",
            detail,
        )
    if isinstance(error, SignatureError | ValueError):
        return PlainError(
            "Rolegate could not build the sign-in request.",
            "Check the endpoint settings (AWS_ENDPOINT_URL_ROLESANYWHERE, AWS_ENDPOINT_URL) and "
            "the certificate authority in the admin.",
            detail,
        )
    return PlainError("Signing in to AWS failed.", "Try again; see the detail below.", detail)


def explain_listing_error(error: AwsError) -> PlainError:
    """Explain why listing the profiles failed after a successful sign-in."""
    detail = str(error)
    if isinstance(error, AccessDeniedError):
        return PlainError(
            "Rolegate signed in, but the sync role may not list the Roles Anywhere profiles.",
            "Give the sync role the inline policy shown under 'Manual steps' "
            "(rolesanywhere:ListProfiles, rolesanywhere:ListTagsForResource, iam:GetRole, ...). "
            "Re-running the set-up script does it.",
            detail,
        )
    if isinstance(error, TransientError):
        return PlainError(
            "AWS was busy or unreachable while listing the profiles.",
            "Try again in a minute.",
            detail,
        )
    return PlainError(
        "Listing the Roles Anywhere profiles failed.", "See the detail below.", detail
    )


# -- trust policies ---------------------------------------------------------------------------


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    # IAM wildcards: `*` any run, `?` one character, nothing else special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _trusts_service(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return SERVICE_PRINCIPAL in _as_list(principal.get("Service")) or "*" in _as_list(
        principal.get("AWS")
    )


def _allows_assume_role(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        return not any(
            _wildcard_match(str(p), "sts:AssumeRole", ignore_case=True)
            for p in _as_list(statement["NotAction"])
        )
    return any(
        _wildcard_match(str(p), "sts:AssumeRole", ignore_case=True)
        for p in _as_list(statement.get("Action"))
    )


_SOURCE_KEYS = {"aws:sourcearn": "arn", "aws:sourceaccount": "account"}


def _source_conditions_hold(statement: Mapping[str, Any], anchor_arn: str, account: str) -> bool:
    """Do the statement's aws:SourceArn / aws:SourceAccount conditions admit this anchor?

    Conditions on other keys (certificate subject, tags...) depend on the caller and cannot be
    judged at enrollment time, so they are taken as satisfiable.
    """
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, dict):
        return False
    context = {"arn": anchor_arn, "account": account}
    for raw_operator, clauses in conditions.items():
        if not isinstance(clauses, dict):
            return False
        operator = str(raw_operator).split(":", 1)[-1].removesuffix("IfExists")
        for key, expected in clauses.items():
            source = _SOURCE_KEYS.get(str(key).lower())
            if source is None:
                continue
            actual = context[source]
            values = [str(value) for value in _as_list(expected)]
            negated = "Not" in operator
            if operator.replace("Not", "") in ("StringLike", "ArnLike"):
                matched = any(_wildcard_match(value, actual) for value in values)
            elif operator.replace("Not", "") in ("StringEquals", "ArnEquals"):
                matched = actual in values
            elif operator.replace("Not", "") == "StringEqualsIgnoreCase":
                matched = actual.lower() in [value.lower() for value in values]
            else:
                continue
            if matched == negated:
                return False
    return True


def trust_policy_problem(
    policy: Any, *, trust_anchor_arn: str, session_revocation: bool = False
) -> str:
    """Return why ``policy`` would stop Roles Anywhere assuming the role through this trust
    anchor, or "" when it allows it. With ``session_revocation``, a policy that does not allow
    sts:SetSourceIdentity is reported too: the kill switch matches sessions by source identity."""
    problem = _trust_policy_problem(policy, trust_anchor_arn=trust_anchor_arn)
    if problem or not session_revocation:
        return problem
    if isinstance(policy, str):
        policy = json.loads(urllib.parse.unquote(policy))
    statements = policy.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    allows = [
        s
        for s in statements
        if isinstance(s, dict) and s.get("Effect") == "Allow" and _trusts_service(s)
    ]
    if not any(
        _wildcard_match(str(action), "sts:SetSourceIdentity", ignore_case=True)
        for statement in allows
        for action in _as_list(statement.get("Action"))
    ):
        return (
            "its trust policy does not allow sts:SetSourceIdentity: session revocation matches "
            "sessions by the source identity Roles Anywhere sets, so add it to the trust policy"
        )
    return ""


def _trust_policy_problem(policy: object, *, trust_anchor_arn: str) -> str:
    anchor = parse_trust_anchor_arn(trust_anchor_arn)
    if isinstance(policy, str):
        try:
            policy = json.loads(urllib.parse.unquote(policy))
        except ValueError:
            return "its trust policy is not valid JSON"
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return "its trust policy has no statements"
    relevant = [
        s
        for s in statements
        if isinstance(s, dict) and _trusts_service(s) and _allows_assume_role(s)
    ]
    for statement in relevant:
        if statement.get("Effect") == "Deny" and _source_conditions_hold(
            statement, anchor.arn, anchor.account_id
        ):
            return f"its trust policy denies {SERVICE_PRINCIPAL} sts:AssumeRole"
    allows = [s for s in relevant if s.get("Effect") == "Allow"]
    if not allows:
        return f"its trust policy does not trust {SERVICE_PRINCIPAL}"
    if not any(_source_conditions_hold(s, anchor.arn, anchor.account_id) for s in allows):
        return (
            f"its trust policy trusts {SERVICE_PRINCIPAL} only through another trust anchor "
            "(aws:SourceArn / aws:SourceAccount condition)"
        )
    return ""


# -- the probe --------------------------------------------------------------------------------


def _iam_client(credentials: awsra.Credentials, target: aws.SyncTarget) -> IAMClient:
    """An IAM client as the sync role; boto3 honours AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL."""
    timeout = float(settings.ROLEGATE_PROFILE_SYNC_TIMEOUT)
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name=target.region,
    )
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 2},
        connect_timeout=timeout,
        read_timeout=timeout,
    )
    return session.client("iam", config=config)


def revocation_permission_problem(iam: IAMClient, role_arn: str) -> str:
    """Can the sync role manage RolegateRevokedSessions on this role? "" when it can.

    Reads the policy; when it is absent, writes a statement that can never match (tokens issued
    before 1970) and deletes it again, so Put and Delete are checked for real, harmlessly. An
    existing policy is left alone (Rolegate wrote it, so the permissions were there).
    """
    from apps.integrations.revocation.policy import POLICY_NAME

    try:
        name = parse_role_arn(role_arn).name
    except ArnError:
        return ""
    never = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RolegatePermissionCheck",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": "1970-01-01T00:00:00Z"}},
            }
        ],
    }
    steps: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("GetRolePolicy", lambda: iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)),
        (
            "PutRolePolicy",
            lambda: iam.put_role_policy(
                RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(never)
            ),
        ),
        ("DeleteRolePolicy", lambda: iam.delete_role_policy(RoleName=name, PolicyName=POLICY_NAME)),
    )
    for index, (operation, call) in enumerate(steps):
        try:
            call()
        except Exception as raw:  # botocore raises many unrelated classes
            error = aws.aws_error_from_boto(operation, raw)
            if index == 0 and error.code == "NoSuchEntity":
                continue
            if isinstance(error, AccessDeniedError):
                return (
                    f"the sync role may not call iam:{operation} on {role_arn}; session "
                    "revocation needs iam:GetRolePolicy, iam:PutRolePolicy and "
                    "iam:DeleteRolePolicy on the profiles' roles (re-run the set-up script)"
                )
            return f"iam:{operation} on {role_arn} could not be checked: {error}"
        else:
            if index == 0:
                return ""  # the policy exists: Rolegate already manages it
    return ""


def _role_problem(
    iam: IAMClient, role_arn: str, trust_anchor_arn: str, *, session_revocation: bool = False
) -> str:
    try:
        name = parse_role_arn(role_arn).name
    except ArnError:
        return "Rolegate cannot parse this role ARN; the sync ignores it"
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception as raw:  # botocore raises many unrelated classes
        error = aws.aws_error_from_boto("GetRole", raw)
        if isinstance(error, ResourceNotFoundError):
            return "the role does not exist"
        if isinstance(error, AccessDeniedError):
            return (
                "could not be checked: the sync role may not call iam:GetRole "
                "(add it to the sync role's policy)"
            )
        return f"could not be checked: {error}"
    if role.get("Arn") and role["Arn"] != role_arn:
        return f"the profile lists {role_arn} but IAM knows the role as {role['Arn']}"
    return trust_policy_problem(
        role.get("AssumeRolePolicyDocument"),
        trust_anchor_arn=trust_anchor_arn,
        session_revocation=session_revocation,
    )


def probe_configuration(
    *,
    integration_name: str,
    trust_anchor_arn: str,
    profile_arn: str,
    role_arn: str,
    session_revocation: bool = False,
) -> ProbeResult:
    """Sign in as Rolegate with the three ARNs, list the profiles and check their roles.

    The ARNs must already have passed the strict parser; AWS failures are returned as a
    `PlainError`, never raised.
    """
    anchor = parse_trust_anchor_arn(trust_anchor_arn)
    target = aws.SyncTarget(
        integration_name=integration_name,
        trust_anchor_arn=anchor.arn,
        profile_arn=profile_arn,
        role_arn=role_arn,
        # No session name: works whether or not the profile accepts one.
        accepts_role_session_name=False,
        partition=anchor.partition,
        region=anchor.region,
        account_id=anchor.account_id,
    )
    signed_in: list[awsra.Credentials] = []

    def sign_in(sync_target: aws.SyncTarget) -> awsra.Credentials:
        credentials = aws.sign_in_as_rolegate(sync_target)
        signed_in.append(credentials)
        return credentials

    try:
        plane = aws.control_plane_for(target, sign_in)
    except (AwsError, SignatureError, ValueError) as error:
        log.info("test configuration of %s: sign-in failed: %s", integration_name, error)
        return ProbeResult(ok=False, error=explain_sign_in_error(error))
    except Exception as error:  # the authority or the HTTP stack: report, do not crash the page
        log.exception("test configuration of %s: sign-in failed unexpectedly", integration_name)
        return ProbeResult(
            ok=False,
            error=PlainError(
                "Rolegate could not sign in because of an internal error.",
                "Check the certificate authority in the admin and the server log, then retry.",
                f"{type(error).__name__}: {error}",
            ),
        )

    details: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        for page in plane.list_profile_pages():
            details.extend(page)
            if len(details) >= MAX_PROFILES:
                notes.append(f"Only the first {MAX_PROFILES} profiles are shown.")
                break
    except AwsError as error:
        return ProbeResult(ok=False, error=explain_listing_error(error))

    sync_detail = next((d for d in details if d.get("profileArn") == profile_arn), None)
    others = [d for d in details if d.get("profileArn") != profile_arn]
    others.sort(key=lambda d: str(d.get("name", "")))
    if sync_detail is None:
        notes.append(
            "The sync profile was not in the listing; check that the profile ARN is the one the "
            "script printed."
        )

    iam = _iam_client(signed_in[0], target)
    role_problems: dict[str, str] = {}
    profiles: list[ProbedProfile] = []
    for index, detail in enumerate(others):
        name = str(detail.get("name", ""))
        arn = str(detail.get("profileArn", ""))
        enabled = bool(detail.get("enabled", False))
        roles = [str(role) for role in detail.get("roleArns") or []]
        warnings: list[str] = []
        if not enabled:
            warnings.append("disabled: it is not synced until it is enabled")
        if not roles:
            warnings.append("has no IAM roles: nobody could get credentials through it")
        tags: dict[str, str] | None = None
        if index < MAX_TAG_LOOKUPS:
            try:
                tags = plane.list_tags(arn)
            except AwsError as error:
                warnings.append(f"its tags could not be read: {error}")
        for role in roles:
            if role not in role_problems:
                if len(role_problems) >= MAX_ROLE_LOOKUPS:
                    continue
                role_problems[role] = _role_problem(
                    iam, role, anchor.arn, session_revocation=session_revocation
                )
            if role_problems[role]:
                warnings.append(f"role {role}: {role_problems[role]}")
        profiles.append(ProbedProfile(name, arn, enabled, roles, tags, warnings))
    first_role = next((role for profile in profiles for role in profile.role_arns), None)
    if session_revocation and first_role is not None:
        problem = revocation_permission_problem(iam, first_role)
        if problem:
            return ProbeResult(
                ok=False,
                error=PlainError(
                    "Session revocation is on, but the sync role cannot manage the revocation "
                    "policy.",
                    "Run the set-up script again (it grants iam:GetRolePolicy, "
                    "iam:PutRolePolicy and iam:DeleteRolePolicy on roles), or turn session "
                    "revocation off in step 1.",
                    problem,
                ),
            )
    if len(others) > MAX_TAG_LOOKUPS:
        notes.append(f"Tags are shown for the first {MAX_TAG_LOOKUPS} profiles only.")
    if len(role_problems) >= MAX_ROLE_LOOKUPS:
        notes.append(f"Trust policies were checked for the first {MAX_ROLE_LOOKUPS} roles only.")
    return ProbeResult(
        ok=True,
        profiles=profiles,
        sync_profile_found=sync_detail is not None,
        accepts_role_session_name=bool(
            sync_detail and sync_detail.get("acceptRoleSessionName", False)
        ),
        notes=notes,
    )
