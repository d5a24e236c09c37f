"""The label matcher: table tests and a differential property against a naive reference."""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rbac.labels import compile_selector, compile_value, normalize_label_key
from tests.rbac.profiles import PROPERTY

PROFILE = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:profile/11111111-2222-3333-4444-555555555555"
)
APP = {
    "rolegate.dev/aws-roles-anywhere-profile-arn": PROFILE,
    "aws_account_id": "123456789012",
    "aws/Team": "Platform",
    "env": "prod-eu",
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"*": "*"}, True),
        ({"env": "*"}, True),
        ({"missing": "*"}, False),
        ({"env": "prod-eu"}, True),
        ({"env": "prod"}, False),
        ({"env": "prod-*"}, True),
        ({"env": "PROD-*"}, False),  # globs are case-sensitive
        ({"env": "prod-e?"}, True),
        ({"env": "prod-[de]u"}, True),
        ({"env": "^prod-(eu|us)$"}, True),
        ({"env": "^prod$"}, False),  # regexes must match the whole value
        ({"env": "^prod"}, False),  # no trailing $: a literal, not a regex
        ({"env": ["dev", "prod-eu"]}, True),  # OR over one key's values
        ({"env": ["dev", "staging"]}, False),
        ({"env": "prod-eu", "aws/Team": "Platform"}, True),  # AND over keys
        ({"env": "prod-eu", "aws/Team": "Data"}, False),
        ({"*": "*", "env": "dev"}, False),  # '*': '*' does not override the other keys
        ({"teleport.dev/aws-roles-anywhere-profile-arn": PROFILE}, True),
        ({"rolegate.dev/aws-roles-anywhere-profile-arn": "arn:aws:rolesanywhere:*"}, True),
        ({}, False),  # an empty selector matches nothing
    ],
)
def test_selector_table(selector: dict[str, str | list[str]], expected: bool) -> None:
    assert compile_selector(selector).matches(APP) is expected


def test_invalid_regex_names_the_value() -> None:
    with pytest.raises(ValueError, match=r"invalid regular expression '\^\(unclosed\$'"):
        compile_value("^(unclosed$")


def test_wildcard_key_needs_wildcard_value() -> None:
    with pytest.raises(ValueError, match="label key '\\*' only supports the value '\\*'"):
        compile_selector({"*": "prod"})


def test_empty_value_list_is_refused() -> None:
    with pytest.raises(ValueError, match="empty list"):
        compile_selector({"env": []})


def test_normalize_label_key() -> None:
    assert normalize_label_key("teleport.dev/integration") == "rolegate.dev/integration"
    assert normalize_label_key("rolegate.dev/integration") == "rolegate.dev/integration"
    assert normalize_label_key("aws/teleport.dev/x") == "aws/teleport.dev/x"


def test_explain_reports_each_key() -> None:
    checks = compile_selector({"env": "dev", "aws/Team": "Plat*"}).explain(APP)
    assert checks[0][:2] == ("env", False)
    assert checks[1][:2] == ("aws/Team", True)
    assert "glob" in checks[1][2]


# --- differential property -------------------------------------------------------------------

ALPHABET = "abAB-*?[]^$.x"
KEYS = ["env", "team", "aws/Name", "rolegate.dev/integration", "teleport.dev/integration"]
REGEXES = ["^a.*$", "^(a|b)+$", "^[A-Z]x$", "^.*-.*$", "^a?b?$", "^$", "^x\\.a$", "^[ab]{2,3}$"]

label_values = st.text(alphabet=ALPHABET, max_size=6)
selector_values = st.one_of(
    st.just("*"), label_values, st.sampled_from(REGEXES), st.text(alphabet="ab*?", max_size=4)
)
selectors = st.dictionaries(
    st.sampled_from([*KEYS, "*"]),
    st.one_of(selector_values, st.lists(selector_values, min_size=1, max_size=3)),
    max_size=3,
)
app_labels = st.dictionaries(
    st.sampled_from([k for k in KEYS if not k.startswith("teleport.dev/")]), label_values
)


def reference_matches(selector: dict[str, str | list[str]], labels: dict[str, str]) -> bool:
    """A deliberately naive reading of the documented semantics."""
    if not selector:
        return False
    for raw_key, raw_values in selector.items():
        values = [raw_values] if isinstance(raw_values, str) else raw_values
        key = raw_key.replace("teleport.dev/", "rolegate.dev/", 1)
        if raw_key == "*":
            continue
        if key not in labels:
            return False
        label = labels[key]
        hit = False
        for value in values:
            if value == "*":
                hit = True
            elif value.startswith("^") and value.endswith("$") and len(value) >= 2:
                hit = re.fullmatch(value, label) is not None
            else:
                hit = fnmatch.fnmatchcase(label, value)
            if hit:
                break
        if not hit:
            return False
    return True


@PROPERTY
@given(selector=selectors, labels=app_labels)
def test_matcher_agrees_with_reference(
    selector: dict[str, str | list[str]], labels: dict[str, str]
) -> None:
    star = selector.get("*")
    assume(star is None or star == "*" or star == ["*"])
    # Both spellings of one key are refused by the role validator, so they never reach here.
    assume(not {"teleport.dev/integration", "rolegate.dev/integration"} <= selector.keys())
    try:
        compiled = compile_selector(selector)
    except ValueError:
        # Only invalid regexes may be refused; the reference must fail on them too.
        regexes = [
            value
            for values in selector.values()
            for value in ([values] if isinstance(values, str) else values)
            if value.startswith("^") and value.endswith("$") and len(value) >= 2
        ]
        assert any(_fails_to_compile(r) for r in regexes)
        return
    assert compiled.matches(labels) == reference_matches(selector, labels)


def _fails_to_compile(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return True
    return False
