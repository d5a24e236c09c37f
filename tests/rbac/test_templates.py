"""Trait templates: parsing, the functions, and the strict-ARN guarantee on every expansion."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from awsra.arn import is_valid_role_arn
from rbac.templates import (
    TemplateError,
    Traits,
    expand_role_arns,
    parse_template,
)
from tests.rbac.profiles import PROPERTY

ACCOUNT = "123456789012"
ARN = f"arn:aws:iam::{ACCOUNT}:role/ReadOnly"
# Written independently of awsra.arn on purpose: the property checks the engine against it.
STRICT_ROLE_ARN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,576}\Z", re.ASCII
)


def values(
    template: str, internal: dict[str, object] | None = None, **external: object
) -> list[str]:
    return parse_template(template).expand(Traits.from_mappings(internal or {}, external))


@pytest.mark.parametrize(
    ("template", "internal", "external", "expected"),
    [
        (ARN, {}, {}, [ARN]),
        ("{{internal.aws_role_arns}}", {"aws_role_arns": [ARN, "x"]}, {}, [ARN, "x"]),
        ("{{ external.aws_role_arns }}", {}, {"aws_role_arns": ARN}, [ARN]),
        ('{{external["http://schemas/role"]}}', {}, {"http://schemas/role": ["r"]}, ["r"]),
        ("{{internal.missing}}", {}, {}, []),
        (
            f"arn:aws:iam::{ACCOUNT}:role/{{{{internal.team}}}}-ro",
            {"team": ["a", "b"]},
            {},
            [
                f"arn:aws:iam::{ACCOUNT}:role/a-ro",
                f"arn:aws:iam::{ACCOUNT}:role/b-ro",
            ],
        ),
        ("{{email.local(external.email)}}", {}, {"email": ["alice@example.com"]}, ["alice"]),
        ("{{email.local(external.email)}}", {}, {"email": ["not-an-email", "@x", "y@"]}, []),
        (
            '{{regexp.replace(internal.groups, "^aws-(.*)$", "role/$1")}}',
            {"groups": ["aws-admin", "other", "aws-dev"]},
            {},
            ["role/admin", "role/dev"],  # values the regex does not match are dropped
        ),
        (
            '{{regexp.replace(internal.g, "^(?P<team>[a-z]+)-(\\d+)$", "${team}_$2$$")}}',
            {"g": ["ops-42"]},
            {},
            ["ops_42$"],
        ),
        (
            '{{regexp.replace(internal.g, "a", "b")}}',
            {"g": ["banana"]},
            {},
            ["bbnbnb"],  # replace-all, like Go's ReplaceAllString
        ),
        ('{{regexp.replace(internal.g, "x", "$1x")}}', {"g": ["x"]}, {}, None),
    ],
)
def test_template_table(
    template: str,
    internal: dict[str, object],
    external: dict[str, object],
    expected: list[str] | None,
) -> None:
    if expected is None:
        with pytest.raises(TemplateError):
            parse_template(template)
        return
    assert values(template, internal, **external) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{internal}}", "expected '.'"),
        ("{{foo.bar}}", "unknown expression"),
        ("{{internal.a}}{{internal.b}}", "only one"),
        ("{{internal.a", "without a closing"),
        ("{internal.a}", "stray brace"),
        ("{{}}", "empty expression"),
        ("{{upper(internal.a)}}", "unknown expression"),
        ("{{email.domain(external.email)}}", "unknown function email.domain"),
        ("{{email.local(external.email, 1)}}", "expected"),
        ('{{regexp.replace(internal.a, "(", "x")}}', "invalid regular expression '\\('"),
        ('{{regexp.replace(internal.a, "(a)", "$2")}}', "group \\$2"),
        ('{{regexp.replace(internal.a, "a", "${nope}")}}', "unknown group 'nope'"),
        ("{{internal.a.b}}", "unexpected '.'"),
        ("{{internal.a; rm}}", "unexpected"),
    ],
)
def test_parse_errors_quote_the_template(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message) as info:
        parse_template(template)
    assert repr(template) in str(info.value)


def test_invalid_values_are_dropped_and_logged_without_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "arn:aws:iam::123456789012:role/*\nsecret-marker"
    traits = Traits.from_mappings({"arns": [ARN, secret]}, {})
    with caplog.at_level(logging.WARNING, logger="rbac"):
        arns, notes = expand_role_arns(
            [parse_template("{{internal.arns}}")], traits, role_name="team-role"
        )
    assert arns == [ARN]
    assert "dropped 1" in notes[0]
    assert "team-role" in caplog.text
    assert "secret-marker" not in caplog.text


def test_missing_trait_is_noted() -> None:
    arns, notes = expand_role_arns(
        [parse_template("{{external.aws_role_arns}}")], Traits(), role_name="r"
    )
    assert arns == []
    assert "gave no value" in notes[0]


# --- the strict-ARN property -------------------------------------------------------------------

LOOKALIKE_DIGITS = "0123456789\u0660\u0661\u0662\u0663\u06f1\uff11"
digits = st.one_of(
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.text(alphabet=LOOKALIKE_DIGITS, min_size=11, max_size=13),
)
names = st.one_of(
    st.text(alphabet="AZaz09+=,.@_-", min_size=1, max_size=10),
    st.text(
        alphabet=st.sampled_from(list("AZaz09+=,.@_-/*? \t\n\r\u00e9\u0131\u212a:{}$")),
        max_size=12,
    ),
)
arn_like = st.builds(
    lambda partition, account, name, tail: f"arn:{partition}:iam::{account}:role/{name}{tail}",
    st.sampled_from(["aws", "aws-cn", "aws-us-gov", "aws*", "AWS", "aws-eu"]),
    digits,
    names,
    st.sampled_from(["", "\n", " ", "\r\n", "*", "\x00"]),
)
trait_value = st.one_of(arn_like, names, st.text(max_size=20), digits)
trait_values = st.lists(trait_value, max_size=4)
TEMPLATES = [
    "{{internal.arns}}",
    "{{external.arns}}",
    f"arn:aws:iam::{ACCOUNT}:role/{{{{internal.arns}}}}",
    f"arn:aws:iam::{ACCOUNT}:role/{{{{email.local(external.email)}}}}",
    "arn:aws:iam::{{internal.arns}}:role/X",
    '{{regexp.replace(external.arns, "^(.*)$", "$1")}}',
    f'{{{{regexp.replace(internal.arns, "^r-(.*)$", "arn:aws:iam::{ACCOUNT}:role/$1")}}}}',
]


@PROPERTY
@given(internal=trait_values, external=trait_values, email=trait_values)
def test_expanded_arns_always_satisfy_the_strict_pattern(
    internal: list[str], external: list[str], email: list[str]
) -> None:
    traits = Traits.from_mappings({"arns": internal}, {"arns": external, "email": email})
    arns, _ = expand_role_arns([parse_template(t) for t in TEMPLATES], traits, role_name="property")
    for arn in arns:
        assert STRICT_ROLE_ARN.fullmatch(arn), arn
        assert not any(c in arn for c in "*? \t\n\r{}$")
        assert arn.isascii()
    # Valid inputs still come through: the filter is not simply dropping everything.
    for value in internal:
        if is_valid_role_arn(value):
            event("a valid ARN trait")
            assert value in arns
