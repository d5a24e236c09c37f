"""The `aws-ra` integration spec: parsing and validation of the YAML document, with clear errors.

Pure (no database): the resource kind, the admin form and the enrollment wizard all build an
`IntegrationSpec` through `integration_spec_from_document` or `make_integration_spec`, so every
entry point applies the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from apps.core.registry import NAME_RE, ResourceError, require_mapping
from awsra.arn import ArnError, parse_profile_arn, parse_role_arn, parse_trust_anchor_arn
from rbac.labels import ValueMatcher, compile_value

SUB_KIND_AWS_RA = "aws-ra"
SUPPORTED_VERSIONS = ("v1",)
NAME_RULE = (
    "must be 1-63 lowercase letters, digits, '.', '_' or '-', starting and ending with "
    "a letter or digit"
)
MAX_FILTERS = 100
MAX_FILTER_LENGTH = 512

_SPEC_FIELDS = {"aws_ra"}
_AWS_RA_FIELDS = {"trust_anchor_arn", "profile_sync_config", "session_revocation"}
_REVOCATION_FIELDS = {"enabled"}
_SYNC_FIELDS = {
    "enabled",
    "profile_arn",
    "role_arn",
    "profile_accepts_role_session_name",
    "profile_name_filters",
}


@dataclass(frozen=True)
class IntegrationSpec:
    """A validated `aws-ra` integration; ARNs are strictly parsed and mutually consistent."""

    name: str
    trust_anchor_arn: str
    partition: str
    region: str
    account_id: str
    sync_enabled: bool = False
    sync_profile_arn: str = ""
    sync_role_arn: str = ""
    sync_profile_accepts_role_session_name: bool = False
    profile_name_filters: tuple[str, ...] = ()
    sub_kind: str = SUB_KIND_AWS_RA
    # `spec.aws_ra.session_revocation.enabled`: the live-session kill switch (issue 18).
    session_revocation_enabled: bool = False


def compile_profile_name_filters(filters: Sequence[str]) -> tuple[ValueMatcher, ...]:
    """Compile filters (globs or `^...$` regexes, case-sensitive) with the one label matcher."""
    compiled: list[ValueMatcher] = []
    for index, source in enumerate(filters):
        field = f"spec.aws_ra.profile_sync_config.profile_name_filters[{index}]"
        if not isinstance(source, str) or not source:
            raise ResourceError("must be a non-empty string", field=field)
        if len(source) > MAX_FILTER_LENGTH:
            raise ResourceError(f"must be at most {MAX_FILTER_LENGTH} characters", field=field)
        try:
            compiled.append(compile_value(source))
        except ValueError as error:
            raise ResourceError(f"filter {source!r} is not valid: {error}", field=field) from None
    return tuple(compiled)


def profile_name_matches(name: str, filters: Sequence[ValueMatcher]) -> bool:
    """Return True if the profile name matches any filter (no filters: every name matches)."""
    if not filters:
        return True
    return any(matcher.matches(name) for matcher in filters)


def _bool(value: object, *, field: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ResourceError(f"must be true or false, got {value!r}", field=field)
    return value


def _optional_str(value: object, *, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ResourceError(f"must be a string, got {type(value).__name__}", field=field)
    return value


def _refuse_unknown(mapping: dict[str, Any], allowed: set[str], *, field: str) -> None:
    unknown = sorted(str(key) for key in set(mapping) - allowed)
    if unknown:
        raise ResourceError(
            f"unknown field(s): {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
            field=field,
        )


def make_integration_spec(
    *,
    name: str,
    trust_anchor_arn: str,
    sync_enabled: bool = False,
    sync_profile_arn: str = "",
    sync_role_arn: str = "",
    sync_profile_accepts_role_session_name: bool = False,
    profile_name_filters: Sequence[str] = (),
    session_revocation_enabled: bool = False,
) -> IntegrationSpec:
    """Validate every field and the relations between the ARNs; raise ResourceError."""
    if not isinstance(name, str):
        raise ResourceError(
            f"must be a string (quote it in YAML), got {type(name).__name__}",
            field="metadata.name",
        )
    if not NAME_RE.match(name):
        raise ResourceError(f"{name!r} {NAME_RULE}", field="metadata.name")
    prefix = "spec.aws_ra."
    sync_prefix = f"{prefix}profile_sync_config."
    if not trust_anchor_arn:
        raise ResourceError("is required", field=f"{prefix}trust_anchor_arn")
    try:
        anchor = parse_trust_anchor_arn(trust_anchor_arn)
    except ArnError as error:
        raise ResourceError(str(error), field=f"{prefix}trust_anchor_arn") from None
    if sync_enabled:
        for field, value in (("profile_arn", sync_profile_arn), ("role_arn", sync_role_arn)):
            if not value:
                raise ResourceError(
                    f"profile_sync_config.{field} is required when profile_sync_config is enabled",
                    field=f"{sync_prefix}{field}",
                )
    if sync_profile_arn:
        try:
            profile = parse_profile_arn(sync_profile_arn)
        except ArnError as error:
            raise ResourceError(str(error), field=f"{sync_prefix}profile_arn") from None
        if profile.partition != anchor.partition:
            raise ResourceError(
                f"the sync profile is in partition {profile.partition!r} but the trust anchor is "
                f"in {anchor.partition!r}; all ARNs must be in one partition",
                field=f"{sync_prefix}profile_arn",
            )
        if profile.region != anchor.region:
            raise ResourceError(
                f"the sync profile is in region {profile.region!r} but the trust anchor is in "
                f"{anchor.region!r}; Roles Anywhere needs both in the same region",
                field=f"{sync_prefix}profile_arn",
            )
        if profile.account_id != anchor.account_id:
            raise ResourceError(
                f"the sync profile is in account {profile.account_id} but the trust anchor is in "
                f"{anchor.account_id}; Roles Anywhere needs both in the same account",
                field=f"{sync_prefix}profile_arn",
            )
    if sync_role_arn:
        try:
            role = parse_role_arn(sync_role_arn)
        except ArnError as error:
            raise ResourceError(str(error), field=f"{sync_prefix}role_arn") from None
        if role.partition != anchor.partition:
            raise ResourceError(
                f"the sync role is in partition {role.partition!r} but the trust anchor is in "
                f"{anchor.partition!r}; all ARNs must be in one partition",
                field=f"{sync_prefix}role_arn",
            )
        if role.account_id != anchor.account_id:
            raise ResourceError(
                f"the sync role is in account {role.account_id} but the trust anchor is in "
                f"{anchor.account_id}; Roles Anywhere only assumes roles in its own account",
                field=f"{sync_prefix}role_arn",
            )
    filters = list(profile_name_filters)
    if len(filters) > MAX_FILTERS:
        raise ResourceError(
            f"at most {MAX_FILTERS} filters are allowed", field=f"{sync_prefix}profile_name_filters"
        )
    compile_profile_name_filters(filters)
    return IntegrationSpec(
        name=name,
        trust_anchor_arn=anchor.arn,
        partition=anchor.partition,
        region=anchor.region,
        account_id=anchor.account_id,
        sync_enabled=sync_enabled,
        sync_profile_arn=sync_profile_arn,
        sync_role_arn=sync_role_arn,
        sync_profile_accepts_role_session_name=sync_profile_accepts_role_session_name,
        profile_name_filters=tuple(filters),
        session_revocation_enabled=bool(session_revocation_enabled),
    )


def integration_spec_from_document(document: dict[str, Any]) -> IntegrationSpec:
    """Parse a `kind: integration` YAML document (already past the registry header checks)."""
    sub_kind = document.get("sub_kind")
    if sub_kind is None:
        raise ResourceError(f"is required (supported: {SUB_KIND_AWS_RA})", field="sub_kind")
    if sub_kind != SUB_KIND_AWS_RA:
        raise ResourceError(
            f"unsupported sub_kind {sub_kind!r} (supported: {SUB_KIND_AWS_RA})", field="sub_kind"
        )
    name = document["metadata"]["name"]
    spec = require_mapping(document.get("spec"), field="spec")
    _refuse_unknown(spec, _SPEC_FIELDS, field="spec")
    if spec.get("aws_ra") is None:
        raise ResourceError(f'aws_ra is required for "{SUB_KIND_AWS_RA}" sub_kind', field="spec")
    aws_ra = require_mapping(spec["aws_ra"], field="spec.aws_ra")
    _refuse_unknown(aws_ra, _AWS_RA_FIELDS, field="spec.aws_ra")
    prefix = "spec.aws_ra."
    trust_anchor_arn = _optional_str(
        aws_ra.get("trust_anchor_arn"), field=f"{prefix}trust_anchor_arn"
    )
    sync = require_mapping(aws_ra.get("profile_sync_config"), field=f"{prefix}profile_sync_config")
    _refuse_unknown(sync, _SYNC_FIELDS, field=f"{prefix}profile_sync_config")
    sync_prefix = f"{prefix}profile_sync_config."
    filters_value = sync.get("profile_name_filters")
    if filters_value is None:
        filters: list[str] = []
    elif isinstance(filters_value, str):
        filters = [filters_value]
    elif isinstance(filters_value, list):
        filters = filters_value
    else:
        raise ResourceError("must be a list of strings", field=f"{sync_prefix}profile_name_filters")
    for index, item in enumerate(filters):
        if not isinstance(item, str):
            raise ResourceError(
                f"must be a string, got {type(item).__name__}",
                field=f"{sync_prefix}profile_name_filters[{index}]",
            )
    return make_integration_spec(
        name=name,
        trust_anchor_arn=trust_anchor_arn,
        sync_enabled=_bool(sync.get("enabled"), field=f"{sync_prefix}enabled", default=False),
        sync_profile_arn=_optional_str(sync.get("profile_arn"), field=f"{sync_prefix}profile_arn"),
        sync_role_arn=_optional_str(sync.get("role_arn"), field=f"{sync_prefix}role_arn"),
        sync_profile_accepts_role_session_name=_bool(
            sync.get("profile_accepts_role_session_name"),
            field=f"{sync_prefix}profile_accepts_role_session_name",
            default=False,
        ),
        profile_name_filters=filters,
        session_revocation_enabled=_revocation_enabled(aws_ra.get("session_revocation")),
    )


def _revocation_enabled(value: object) -> bool:
    """`session_revocation: {enabled: true}`; absent or null means off."""
    field = "spec.aws_ra.session_revocation"
    if value is None:
        return False
    revocation = require_mapping(value, field=field)
    _refuse_unknown(revocation, _REVOCATION_FIELDS, field=field)
    return _bool(revocation.get("enabled"), field=f"{field}.enabled", default=False)
