"""Pure SSO mapping: claims to traits, usernames, e-mail domains, claims-to-roles rules."""

from __future__ import annotations

import pytest

from apps.accounts.oidc.mapping import (
    MAX_VALUE_LENGTH,
    email_domain_refusal,
    normalize_claims,
    parse_connector_spec,
    roles_for_claims,
    sanitize_username,
)
from apps.core.registry import ResourceError


def test_claims_become_lists_of_strings_without_protocol_claims() -> None:
    claims = {
        "iss": "https://idp",
        "aud": "rolegate",
        "exp": 1,
        "iat": 1,
        "nonce": "n",
        "at_hash": "h",
        "sub": "abc",
        "email": "a@example.com",
        "email_verified": True,
        "groups": ["aws-admins", "eng", "eng", 7, None, {"nested": 1}, ["deep"]],
        "level": 3,
        "ratio": 0.5,
        "address": {"street": "x"},
        "nothing": None,
        "aws_role_arns": "arn:aws:iam::123456789012:role/Admin",
    }
    assert normalize_claims(claims) == {
        "aws_role_arns": ["arn:aws:iam::123456789012:role/Admin"],
        "email": ["a@example.com"],
        "email_verified": ["true"],
        "groups": ["aws-admins", "eng", "7"],
        "level": ["3"],
        "ratio": ["0.5"],
        "sub": ["abc"],
    }


def test_allowlist_keeps_only_named_claims() -> None:
    claims = {"groups": ["a"], "aws_role_arns": ["x"], "email": "e@x.io"}
    assert normalize_claims(claims, ["aws_role_arns", "missing"]) == {"aws_role_arns": ["x"]}


def test_over_long_values_are_dropped_not_truncated() -> None:
    long_value = "arn:aws:iam::123456789012:role/" + "a" * MAX_VALUE_LENGTH
    assert normalize_claims({"aws_role_arns": [long_value, "short"]}) == {
        "aws_role_arns": ["short"]
    }


def test_claim_names_with_control_characters_are_dropped() -> None:
    assert normalize_claims({"bad\nname": "x", "": "y", "ok": "z"}) == {"ok": ["z"]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice", "alice"),
        ("alice@example.com", "alice@example.com"),
        ("  José Smith ", "Jose_Smith"),
        ("a/b\\c", "a_b_c"),
        ("../../etc", ".._.._etc"),
        ("x" * 200, "x" * 150),
        ("日本", None),
        ("", None),
        (None, None),
        (["alice"], None),
        (12345, "12345"),
    ],
)
def test_username_sanitizing(raw: object, expected: str | None) -> None:
    assert sanitize_username(raw) == expected


@pytest.mark.parametrize(
    ("claims", "refused"),
    [
        ({"email": "a@example.com"}, None),
        ({"email": "a@EXAMPLE.com", "email_verified": True}, None),
        ({"email": "a@example.com", "email_verified": "true"}, None),
        ({"email": "a@example.com", "email_verified": False}, "not verified"),
        ({"email": "a@evil.com"}, "'evil.com' is not allowed"),
        ({"email": "a@sub.example.com"}, "is not allowed"),
        ({"email": "a@example.com.evil.com"}, "is not allowed"),
        ({"email": "a@b@example.com"}, "no e-mail address"),
        ({}, "no e-mail address"),
        ({"email": ["a@example.com"]}, "no e-mail address"),
    ],
)
def test_email_domains(claims: dict[str, object], refused: str | None) -> None:
    reason = email_domain_refusal(claims, ["example.com", "corp.example"])
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_no_domain_restriction_accepts_anything() -> None:
    assert email_domain_refusal({}, []) is None


def test_rules_map_literal_glob_and_regex_values() -> None:
    spec = parse_connector_spec(
        {
            "claims_to_roles": [
                {"claim": "groups", "value": "aws-admins", "roles": ["aws-admin"]},
                {"claim": "groups", "value": "eng-*", "roles": ["read-only", "dev"]},
                {"claim": "department", "value": "^(ops|sre)$", "roles": ["oncall"]},
            ]
        }
    )
    assert roles_for_claims(spec.claims_to_roles, {"groups": ["aws-admins"]}) == ["aws-admin"]
    assert roles_for_claims(spec.claims_to_roles, {"groups": ["eng-platform"]}) == [
        "dev",
        "read-only",
    ]
    assert roles_for_claims(spec.claims_to_roles, {"department": ["sre"]}) == ["oncall"]
    assert roles_for_claims(spec.claims_to_roles, {"department": ["sre-lead"]}) == []
    assert roles_for_claims(spec.claims_to_roles, {"groups": ["AWS-ADMINS", "eng"]}) == []
    assert spec.role_names == ["aws-admin", "dev", "oncall", "read-only"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"client_secret": "x"}, "spec.client_secret"),
        ({"issuer_url": "https://idp"}, "spec.issuer_url"),
        ({"bogus": 1}, "spec"),
        ({"claims_to_roles": "groups"}, "spec.claims_to_roles"),
        ({"claims_to_roles": [{"claim": "groups", "value": "a"}]}, "spec.claims_to_roles[0].roles"),
        ({"claims_to_roles": [{"claim": "", "value": "a", "roles": ["r"]}]}, "[0].claim"),
        ({"claims_to_roles": [{"claim": "g", "value": "", "roles": ["r"]}]}, "[0].value"),
        ({"claims_to_roles": [{"claim": "g", "value": "^([$", "roles": ["r"]}]}, "[0].value"),
        ({"claims_to_roles": [{"claim": "g", "value": "a", "roles": ["r"], "x": 1}]}, "[0]"),
        ({"display": 5}, "spec.display"),
    ],
)
def test_bad_connector_specs_name_the_field(spec: object, field: str) -> None:
    with pytest.raises(ResourceError) as caught:
        parse_connector_spec(spec)
    assert caught.value.field is not None and field in caught.value.field


def test_spec_round_trips() -> None:
    raw = {
        "display": "Okta",
        "claims_to_roles": [{"claim": "groups", "value": "a*", "roles": ["r1", "r2"]}],
    }
    assert parse_connector_spec(raw).to_dict() == raw
