"""The strict ARN parser: examples, clear refusals, and properties checked by hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awsra.arn import (
    ROLE_ARN_RE,
    ArnError,
    is_valid_role_arn,
    parse_assumed_role_arn,
    parse_profile_arn,
    parse_role_arn,
    parse_trust_anchor_arn,
)

UUID = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize(
    ("arn", "partition", "path", "name"),
    [
        ("arn:aws:iam::123456789012:role/ReadOnly", "aws", "/", "ReadOnly"),
        ("arn:aws:iam::123456789012:role/team/dev/Admin", "aws", "/team/dev/", "Admin"),
        ("arn:aws-us-gov:iam::123456789012:role/a+=,.@_-b", "aws-us-gov", "/", "a+=,.@_-b"),
        ("arn:aws-cn:iam::123456789012:role/x", "aws-cn", "/", "x"),
    ],
)
def test_role_arns_parse(arn, partition, path, name):
    parsed = parse_role_arn(arn)
    assert (parsed.partition, parsed.account_id, parsed.path, parsed.name, parsed.arn) == (
        partition,
        "123456789012",
        path,
        name,
        arn,
    )
    assert is_valid_role_arn(arn)


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("", "empty"),
        ("role/x", "not a valid IAM role ARN"),
        ("arn:aws:iam::123456789012:role/", "empty role name"),
        ("arn:aws:iam::123456789012:role//x", "empty path segment"),
        ("arn:aws:iam::123456789012:role/x\n", "characters outside"),
        ("arn:aws:iam::123456789012:role/x y", "characters outside"),
        ("arn:aws:iam::123456789012:role/" + "n" * 65, "over 64"),
        ("arn:aws:iam::12345678901:role/x", "account id"),
        ("arn:aws:iam::1234567890\u0661\u0662:role/x", "account id"),  # Arabic-Indic digits
        (
            "arn:aws:iam::" + "".join(chr(0xFF10 + int(d)) for d in "123456789012") + ":role/x",
            "account id",
        ),
        ("arn:aws:iam::123456789012:role/café", "characters outside"),
        ("arn:aws:iam:us-east-1:123456789012:role/x", "empty region"),
        ("arn:aws:s3:::bucket", "'s3' ARN"),
        ("arn:aws-iso:iam::123456789012:role/x", "unknown partition"),
        ("arn:aws:iam::123456789012:user/x", "malformed"),
    ],
)
def test_bad_role_arns_are_refused_with_a_clear_reason(arn, message):
    with pytest.raises(ArnError, match=message):
        parse_role_arn(arn)
    assert not is_valid_role_arn(arn)


def test_role_path_length_is_bounded():
    assert is_valid_role_arn("arn:aws:iam::123456789012:role" + "/p" * 255 + "/N")  # 511 chars
    assert not is_valid_role_arn("arn:aws:iam::123456789012:role" + "/p" * 256 + "/N")


def test_non_strings_are_refused():
    with pytest.raises(ArnError, match="must be a string"):
        parse_role_arn(None)  # type: ignore[arg-type]
    assert not is_valid_role_arn(123)


def test_rolesanywhere_arns_parse():
    anchor = parse_trust_anchor_arn(
        f"arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/{UUID}"
    )
    assert (anchor.partition, anchor.region, anchor.account_id, anchor.resource_id) == (
        "aws",
        "eu-west-1",
        "123456789012",
        UUID,
    )
    profile = parse_profile_arn(f"arn:aws-cn:rolesanywhere:cn-north-1:123456789012:profile/{UUID}")
    assert (profile.partition, profile.region) == ("aws-cn", "cn-north-1")
    gov = parse_profile_arn(
        f"arn:aws-us-gov:rolesanywhere:us-gov-west-1:123456789012:profile/{UUID}"
    )
    assert gov.partition == "aws-us-gov"


@pytest.mark.parametrize(
    ("parser", "arn", "message"),
    [
        (
            parse_profile_arn,
            f"arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/{UUID}",
            "malformed",
        ),
        (
            parse_trust_anchor_arn,
            f"arn:aws:rolesanywhere:us-east-1:123456789012:profile/{UUID}",
            "malformed",
        ),
        (
            parse_profile_arn,
            f"arn:aws-cn:rolesanywhere:us-east-1:123456789012:profile/{UUID}",
            "partition 'aws-cn' but region",
        ),
        (
            parse_profile_arn,
            f"arn:aws:rolesanywhere:us-gov-west-1:123456789012:profile/{UUID}",
            "is in 'aws-us-gov'",
        ),
        (
            parse_profile_arn,
            "arn:aws:rolesanywhere:us-east-1:123456789012:profile/not-a-uuid",
            "malformed",
        ),
        (
            parse_profile_arn,
            f"arn:aws:rolesanywhere:US-EAST-1:123456789012:profile/{UUID}",
            "invalid region",
        ),
        (
            parse_trust_anchor_arn,
            f"arn:aws:rolesanywhere:us-iso-east-1:123456789012:trust-anchor/{UUID}",
            "does not support",
        ),
        (parse_trust_anchor_arn, "arn:trust-anchor-arn", "not a valid trust anchor ARN"),
    ],
)
def test_bad_rolesanywhere_arns_are_refused(parser, arn, message):
    with pytest.raises(ArnError, match=message):
        parser(arn)


def test_assumed_role_arn():
    parsed = parse_assumed_role_arn("arn:aws:sts::123456789012:assumed-role/RAExample/alice@corp")
    assert (parsed.role_name, parsed.session_name, parsed.account_id) == (
        "RAExample",
        "alice@corp",
        "123456789012",
    )
    with pytest.raises(ArnError, match="'iam' ARN"):
        parse_assumed_role_arn("arn:aws:iam::123456789012:role/RAExample")
    with pytest.raises(ArnError):
        parse_assumed_role_arn("arn:aws:sts::123456789012:assumed-role/RAExample")


def test_arn_error_is_a_value_error():
    assert issubclass(ArnError, ValueError)


# --- properties --------------------------------------------------------------------------------

_arn_like = st.builds(
    lambda partition, account, resource: f"arn:{partition}:iam::{account}:{resource}",
    st.sampled_from(["aws", "aws-cn", "aws-us-gov", "aws-iso", "", "AWS"]),
    st.one_of(st.from_regex(r"[0-9]{12}", fullmatch=True), st.text(max_size=14)),
    st.one_of(
        st.builds(lambda s: "role/" + s, st.text(max_size=80)),
        st.builds(
            lambda s: "role/" + s,
            st.text(alphabet="abcXYZ09_+=,.@-/\n \u00e9\u0663", max_size=80),
        ),
    ),
)


@given(st.one_of(st.text(max_size=200), _arn_like))
def test_role_parser_never_crashes_and_agrees_with_the_regex(text):
    refusal: str | None
    try:
        parsed = parse_role_arn(text)
    except ArnError as exc:
        refusal = str(exc)
    else:
        refusal = None
    if refusal is not None:
        assert refusal
        assert ROLE_ARN_RE.fullmatch(text) is None
        assert not is_valid_role_arn(text)
    else:
        assert ROLE_ARN_RE.fullmatch(text) is not None
        assert text.isascii() and "\n" not in text
        assert parsed.arn == text
        assert text.endswith(f":role{parsed.path}{parsed.name}")
        assert len(parsed.name) <= 64


@given(st.from_regex(ROLE_ARN_RE, fullmatch=True))
def test_everything_the_regex_accepts_parses(text):
    parsed = parse_role_arn(text)
    assert f"arn:{parsed.partition}:iam::{parsed.account_id}:role{parsed.path}{parsed.name}" == text


@given(st.text(max_size=120))
def test_other_parsers_never_crash(text):
    for parser in (parse_trust_anchor_arn, parse_profile_arn, parse_assumed_role_arn):
        try:
            parser(text)
        except ArnError as exc:
            refusal = str(exc)
        else:
            refusal = "accepted"
        assert refusal


@given(st.characters(categories=["Nd"]).filter(lambda ch: not ("0" <= ch <= "9")))
def test_non_ascii_digits_are_refused_in_account_ids(digit):
    assert not is_valid_role_arn(f"arn:aws:iam::12345678901{digit}:role/x")
    with pytest.raises(ArnError):
        parse_trust_anchor_arn(
            f"arn:aws:rolesanywhere:us-east-1:12345678901{digit}:trust-anchor/{UUID}"
        )
