"""Pure rules: the app-name sanitizer, labels, filters, spec validation and the pacer."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.registry import ResourceError
from apps.integrations.aws import Pacer
from apps.integrations.spec import (
    compile_profile_name_filters,
    make_integration_spec,
    profile_name_matches,
)
from apps.resources.naming import AppNameError, app_labels, app_name_for, sanitize_app_name

ANCHOR = (
    "arn:aws:rolesanywhere:eu-west-2:123456789012:trust-anchor/0b7e1a4e-55f7-4a3c-9b0e-4d1f1c2b3a4d"
)
PROFILE = (
    "arn:aws:rolesanywhere:eu-west-2:123456789012:profile/1c8f2b5f-66a8-4b4d-8c1f-5e2a2d3c4b5e"
)
ROLE = "arn:aws:iam::123456789012:role/RolegateProfileSync"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ExampleReadOnlyAccess", "examplereadonlyaccess"),
        ("foo_bar", "foo-bar"),
        ("foo bar", "foo-bar"),
        ("foo__bar", "foo--bar"),
        ("_leading", "leading"),
        ("env.prod", "env.prod"),
        ("env_.prod_", "env.prod"),
        ("Prod/Ops!", "prod-ops"),
    ],
)
def test_sanitizer_follows_the_reference_rules(raw: str, expected: str) -> None:
    assert sanitize_app_name(raw) == expected


@pytest.mark.parametrize("raw", ["___", "", "...", "_._"])
def test_sanitizer_refuses_names_with_nothing_left(raw: str) -> None:
    with pytest.raises(AppNameError, match="no letters or digits"):
        sanitize_app_name(raw)


def test_app_name_keeps_integration_suffix_with_name_tags() -> None:
    assert app_name_for("P", {}, "aws-prod") == "p-aws-prod"
    assert app_name_for("P", {"TeleportApplicationName": "My_App"}, "aws-prod") == (
        "my-app-aws-prod"
    )
    both = {"TeleportApplicationName": "old", "RolegateApplicationName": "new"}
    assert app_name_for("P", both, "x") == "new-x"
    assert app_name_for("P", {"RolegateApplicationName": "  "}, "x") == "p-x"
    with pytest.raises(AppNameError, match="longer than 255"):
        app_name_for("a" * 255, {}, "x")


def test_labels_from_tags_and_identity() -> None:
    labels = app_labels(
        tags={"Team": "ops", "cost center": "42"},
        account_id="123456789012",
        integration_name="aws-prod",
        profile_arn=PROFILE,
    )
    assert labels == {
        "aws/Team": "ops",
        "aws/cost center": "42",
        "aws_account_id": "123456789012",
        "rolegate.dev/account-id": "123456789012",
        "rolegate.dev/integration": "aws-prod",
        "rolegate.dev/aws-roles-anywhere-profile-arn": PROFILE,
    }


def test_filters_glob_regex_ored_and_case_sensitive() -> None:
    filters = compile_profile_name_filters(["MyTeam-*", "^Ops-[0-9]+$"])
    assert profile_name_matches("MyTeam-dev", filters)
    assert profile_name_matches("Ops-12", filters)
    assert not profile_name_matches("myteam-dev", filters)
    assert not profile_name_matches("Ops-x", filters)
    assert not profile_name_matches("XMyTeam-dev", filters)
    assert profile_name_matches("anything", compile_profile_name_filters([]))
    assert profile_name_matches("anything", compile_profile_name_filters(["*"]))


def spec(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "aws-prod",
        "trust_anchor_arn": ANCHOR,
        "sync_enabled": True,
        "sync_profile_arn": PROFILE,
        "sync_role_arn": ROLE,
    }
    fields.update(overrides)
    return make_integration_spec(**fields)


def test_valid_spec_derives_region_partition_account() -> None:
    made = spec(profile_name_filters=["MyTeam-*", "^MyTeam-.*$"])
    assert (made.partition, made.region, made.account_id) == ("aws", "eu-west-2", "123456789012")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "Integration Name"}, "metadata.name", "lowercase"),
        ({"trust_anchor_arn": ""}, "spec.aws_ra.trust_anchor_arn", "is required"),
        ({"trust_anchor_arn": PROFILE}, "spec.aws_ra.trust_anchor_arn", "malformed"),
        ({"sync_profile_arn": ANCHOR}, "profile_sync_config.profile_arn", "malformed"),
        ({"sync_role_arn": PROFILE}, "profile_sync_config.role_arn", "IAM role ARN"),
        ({"sync_profile_arn": ""}, "profile_sync_config.profile_arn", "required when"),
        ({"sync_role_arn": ""}, "profile_sync_config.role_arn", "required when"),
        (
            {"sync_profile_arn": PROFILE.replace("eu-west-2", "us-east-1")},
            "profile_sync_config.profile_arn",
            "same region",
        ),
        (
            {"sync_role_arn": "arn:aws-cn:iam::123456789012:role/X"},
            "profile_sync_config.role_arn",
            "one partition",
        ),
        (
            {"sync_role_arn": "arn:aws:iam::999999999999:role/X"},
            "profile_sync_config.role_arn",
            "own account",
        ),
        (
            {"profile_name_filters": ["^[invalid-regex{$"]},
            "profile_name_filters[0]",
            "'^[invalid-regex{$'",
        ),
        ({"profile_name_filters": [""]}, "profile_name_filters[0]", "non-empty"),
    ],
)
def test_spec_errors_name_the_field(overrides: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ResourceError) as caught:
        spec(**overrides)
    assert caught.value.field is not None and caught.value.field.endswith(field)
    assert message in str(caught.value)


def test_disabled_sync_needs_no_profile_or_role() -> None:
    made = spec(sync_enabled=False, sync_profile_arn="", sync_role_arn="")
    assert made.sync_enabled is False


def test_pacer_spaces_calls_at_the_rate() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()
    assert slept == [0.5, 0.5, 0.5, 0.5]
    now[0] += 10
    assert pacer.wait() == 0.0
    assert Pacer(0, clock=lambda: now[0], sleep=sleep).wait() == 0.0
