"""The decision engine: the guide's example role, edge cases, and RBAC properties."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from awsra.arn import is_valid_role_arn
from rbac.decision import (
    AppFacts,
    RoleSpec,
    Traits,
    accessible_apps,
    allowed_aws_roles,
    compile_role,
    explain,
    granting_roles,
    max_session_ttl,
)
from rbac.spec import RoleOptions, Rule, parse_role_spec
from tests.rbac.profiles import PROPERTY

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
READ_ONLY = f"arn:aws:iam::{ACCOUNT}:role/ExampleReadOnlyAccess"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
PROFILE = f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/11111111-2222-3333-4444-555555555555"
OTHER_PROFILE = (
    f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/66666666-7777-8888-9999-000000000000"
)
NO_TRAITS = Traits()

GUIDE_ROLE_YAML = f"""
kind: role
version: v7
metadata:
  name: example-read-only-access
spec:
  allow:
    app_labels:
      'teleport.dev/aws-roles-anywhere-profile-arn': '{PROFILE}'
    aws_role_arns:
    - {READ_ONLY}
"""


def synced_app(name: str, profile: str, roles: set[str], account: str = ACCOUNT) -> AppFacts:
    """An app shaped like the profile sync makes them."""
    return AppFacts(
        name=name,
        labels={
            "rolegate.dev/aws-roles-anywhere-profile-arn": profile,
            "rolegate.dev/integration": "aws-prod",
            "rolegate.dev/account-id": account,
            "aws_account_id": account,
            "aws/Team": "platform",
        },
        account_id=account,
        role_arns=frozenset(roles),
    )


def role(name: str, spec: dict[str, Any]) -> RoleSpec:
    return parse_role_spec(name, spec)


@pytest.fixture
def guide_role() -> RoleSpec:
    document = yaml.safe_load(GUIDE_ROLE_YAML)
    return parse_role_spec(document["metadata"]["name"], document["spec"])


def test_guide_role_is_stored_with_rolegate_keys(guide_role: RoleSpec) -> None:
    assert guide_role.to_dict()["allow"]["app_labels"] == {
        "rolegate.dev/aws-roles-anywhere-profile-arn": [PROFILE]
    }


def test_guide_role_grants_its_profile_only(guide_role: RoleSpec) -> None:
    app = synced_app("example-read-only-access", PROFILE, {READ_ONLY})
    other = synced_app("other", OTHER_PROFILE, {READ_ONLY})
    assert allowed_aws_roles([guide_role], NO_TRAITS, app) == {READ_ONLY}
    assert allowed_aws_roles([guide_role], NO_TRAITS, other) == set()
    assert accessible_apps([guide_role], NO_TRAITS, [other, app]) == [(app, (READ_ONLY,))]


def test_role_missing_from_profile_is_not_offered(guide_role: RoleSpec) -> None:
    app = synced_app("example-read-only-access", PROFILE, {ADMIN})
    assert allowed_aws_roles([guide_role], NO_TRAITS, app) == set()
    verdict = explain([guide_role], NO_TRAITS, app, READ_ONLY).verdict
    assert verdict is not None
    assert not verdict.allowed
    assert "profile does not list" in verdict.reason


def test_role_in_another_account_is_not_offered() -> None:
    foreign = f"arn:aws:iam::{OTHER_ACCOUNT}:role/ReadOnly"
    spec = role("r", {"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [foreign]}})
    app = synced_app("a", PROFILE, {foreign})
    assert allowed_aws_roles([spec], NO_TRAITS, app) == set()
    verdict = explain([spec], NO_TRAITS, app, foreign).verdict
    assert verdict is not None
    assert f"account {OTHER_ACCOUNT}" in verdict.reason


def test_wildcard_profile_label_gives_every_profile() -> None:
    spec = role(
        "all-read-only",
        {
            "allow": {
                "app_labels": {"teleport.dev/aws-roles-anywhere-profile-arn": "*"},
                "aws_role_arns": [READ_ONLY],
            }
        },
    )
    apps = [synced_app("a", PROFILE, {READ_ONLY}), synced_app("b", OTHER_PROFILE, {READ_ONLY})]
    assert [a.name for a, _ in accessible_apps([spec], NO_TRAITS, apps)] == ["a", "b"]


def test_external_trait_template_from_the_guide() -> None:
    spec = role(
        "sso",
        {"allow": {"app_labels": {"*": "*"}, "aws_role_arns": ["{{external.aws_role_arns}}"]}},
    )
    app = synced_app("a", PROFILE, {READ_ONLY, ADMIN})
    traits = Traits.from_mappings({}, {"aws_role_arns": [READ_ONLY, "arn:aws:iam::*:role/*"]})
    assert allowed_aws_roles([spec], traits, app) == {READ_ONLY}
    assert allowed_aws_roles([spec], NO_TRAITS, app) == set()


def test_deny_without_arns_denies_the_whole_app(guide_role: RoleSpec) -> None:
    deny = role("no-prod", {"deny": {"app_labels": {"aws/Team": "platform"}}})
    app = synced_app("a", PROFILE, {READ_ONLY})
    assert allowed_aws_roles([guide_role, deny], NO_TRAITS, app) == set()
    explanation = explain([guide_role, deny], NO_TRAITS, app)
    assert explanation.denied_whole_app_by == ("no-prod",)
    assert not explanation.allowed


def test_deny_arn_glob_removes_matching_roles() -> None:
    allow = role("all", {"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ_ONLY, ADMIN]}})
    deny = role(
        "no-admin",
        {
            "deny": {
                "app_labels": {"*": "*"},
                "aws_role_arns": [f"arn:aws:iam::{ACCOUNT}:role/Adm*"],
            }
        },
    )
    app = synced_app("a", PROFILE, {READ_ONLY, ADMIN})
    assert allowed_aws_roles([allow, deny], NO_TRAITS, app) == {READ_ONLY}
    verdict = explain([allow, deny], NO_TRAITS, app, ADMIN).verdict
    assert verdict is not None
    assert verdict.denied_by == (f"no-admin (arn:aws:iam::{ACCOUNT}:role/Adm*)",)


def test_deny_template_values_match_exactly() -> None:
    allow = role("all", {"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ_ONLY, ADMIN]}})
    deny = role(
        "trait-deny",
        {"deny": {"app_labels": {"*": "*"}, "aws_role_arns": ["{{internal.denied}}"]}},
    )
    app = synced_app("a", PROFILE, {READ_ONLY, ADMIN})
    star = Traits.from_mappings({"denied": ["*"]}, {})
    exact = Traits.from_mappings({"denied": [ADMIN]}, {})
    # A trait value is a literal, never a pattern: "*" denies nothing rather than everything.
    assert allowed_aws_roles([allow, deny], star, app) == {READ_ONLY, ADMIN}
    assert allowed_aws_roles([allow, deny], exact, app) == {READ_ONLY}


def test_deny_template_keeps_the_operators_glob_around_the_trait() -> None:
    """The operator's `*` around a trait stays a glob; only the trait value is literal."""
    allow = role("all", {"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ_ONLY, ADMIN]}})
    deny = role(
        "trait-deny-any-account",
        {
            "deny": {
                "app_labels": {"*": "*"},
                "aws_role_arns": ["arn:aws:iam::*:role/{{internal.denied}}"],
            }
        },
    )
    regex_deny = role(
        "trait-deny-regex",
        {
            "deny": {
                "app_labels": {"*": "*"},
                "aws_role_arns": ["^arn:aws:iam::[0-9]+:role/{{internal.denied}}$"],
            }
        },
    )
    app = synced_app("a", PROFILE, {READ_ONLY, ADMIN})
    name = Traits.from_mappings({"denied": ["Admin"]}, {})
    # Fail open before: the expanded "arn:aws:iam::*:role/Admin" was compared as an exact string.
    assert allowed_aws_roles([allow, deny], name, app) == {READ_ONLY}
    assert allowed_aws_roles([allow, regex_deny], name, app) == {READ_ONLY}
    # The trait value itself still never widens into a pattern.
    wide = Traits.from_mappings({"denied": ["*", ".*", "Adm?n", "[A]dmin"]}, {})
    assert allowed_aws_roles([allow, deny], wide, app) == {READ_ONLY, ADMIN}
    assert allowed_aws_roles([allow, regex_deny], wide, app) == {READ_ONLY, ADMIN}


def test_no_roles_explains_itself() -> None:
    explanation = explain([], NO_TRAITS, synced_app("a", PROFILE, {READ_ONLY}), READ_ONLY)
    assert not explanation.allowed
    assert "no roles" in explanation.summary


def test_max_session_ttl_is_the_minimum_of_granting_roles(guide_role: RoleSpec) -> None:
    short = RoleSpec(
        name="short",
        allow=Rule(app_labels={"*": ("*",)}, aws_role_arns=(READ_ONLY,)),
        options=RoleOptions(max_session_ttl=timedelta(hours=1)),
    )
    unrelated = RoleSpec(
        name="unrelated", options=RoleOptions(max_session_ttl=timedelta(minutes=15))
    )
    app = synced_app("a", PROFILE, {READ_ONLY})
    roles = [guide_role, short, unrelated]
    assert max_session_ttl([]) == timedelta(hours=8)
    assert max_session_ttl([guide_role]) == timedelta(hours=8)
    granting = granting_roles(roles, NO_TRAITS, app, READ_ONLY)
    assert {r.name for r in granting} == {"example-read-only-access", "short"}
    assert max_session_ttl(granting) == timedelta(hours=1)
    assert explain(roles, NO_TRAITS, app).max_session_ttl == timedelta(hours=1)


# --- properties ------------------------------------------------------------------------------

ACCOUNTS = [ACCOUNT, OTHER_ACCOUNT]
ARNS = [f"arn:aws:iam::{a}:role/{n}" for a in ACCOUNTS for n in ("A", "B", "Admin")]
LABEL_VALUES = {"env": ["prod", "dev", "prod-eu"], "team": ["a", "b"]}
# Precomputed selectors keep generation cheap (5,000 examples per property stay fast).
SELECTORS: list[dict[str, Any]] = [
    {},
    {"*": "*"},
    {"env": "prod"},
    {"env": "prod*"},
    {"env": "^dev|prod$"},
    {"env": "*"},
    {"env": ["dev", "prod-eu"]},
    {"team": "a"},
    {"team": "b", "env": "prod*"},
    {"team": "*", "env": "^prod.*$"},
    {"*": "*", "team": "a"},
]
selectors = st.sampled_from(SELECTORS)
deny_selectors = st.sampled_from([s for s in SELECTORS if s])
allow_arns = st.lists(
    st.sampled_from([*ARNS, "{{internal.arns}}", "{{external.arns}}"]), max_size=4
)
deny_arns = st.lists(
    st.sampled_from(
        [*ARNS, "{{internal.deny}}", f"arn:aws:iam::{ACCOUNT}:role/*", "^.*Admin$", "*"]
    ),
    max_size=3,
)


@st.composite
def role_specs(draw: st.DrawFn, *, allow: bool = True, deny: bool = True) -> RoleSpec:
    name = draw(st.sampled_from(["r1", "r2", "r3", "r4", "r5"]))
    spec: dict[str, Any] = {}
    if allow:
        spec["allow"] = {"app_labels": draw(selectors), "aws_role_arns": draw(allow_arns)}
    if deny and draw(st.booleans()):
        labels = draw(deny_selectors)
        spec["deny"] = {"app_labels": labels, "aws_role_arns": draw(deny_arns)}
    return parse_role_spec(name, spec)


@st.composite
def apps(draw: st.DrawFn) -> AppFacts:
    account = draw(st.sampled_from(ACCOUNTS))
    labels = {k: draw(st.sampled_from(v)) for k, v in LABEL_VALUES.items() if draw(st.booleans())}
    return AppFacts(
        name=draw(st.sampled_from(["x", "y", "z"])),
        labels=labels,
        account_id=account,
        role_arns=frozenset(draw(st.sets(st.sampled_from(ARNS)))),
    )


trait_values = st.lists(st.sampled_from([*ARNS, "*", "junk", f"{ARNS[0]}\n"]), max_size=3)
traits = st.builds(
    lambda i, d, e: Traits.from_mappings({"arns": i, "deny": d}, {"arns": e}),
    trait_values,
    trait_values,
    trait_values,
)
role_lists = st.lists(role_specs(), max_size=4)


@PROPERTY
@given(app=apps(), user_traits=traits)
def test_no_roles_nothing(app: AppFacts, user_traits: Traits) -> None:
    assert allowed_aws_roles([], user_traits, app) == set()
    assert accessible_apps([], user_traits, [app]) == []


@PROPERTY
@given(roles=role_lists, app=apps(), user_traits=traits, denied=st.sampled_from(ARNS))
def test_deny_beats_allow(
    roles: list[RoleSpec], app: AppFacts, user_traits: Traits, denied: str
) -> None:
    before = allowed_aws_roles(roles, user_traits, app)
    whole = parse_role_spec("deny-all", {"deny": {"app_labels": {"*": "*"}}})
    one = parse_role_spec(
        "deny-one", {"deny": {"app_labels": {"*": "*"}, "aws_role_arns": [denied]}}
    )
    assert allowed_aws_roles([*roles, whole], user_traits, app) == set()
    assert allowed_aws_roles([one, *roles], user_traits, app) == before - {denied}
    assert allowed_aws_roles([*roles, one], user_traits, app) == before - {denied}


@PROPERTY
@given(roles=role_lists, extra=role_specs(deny=False), app=apps(), user_traits=traits)
def test_adding_an_allow_never_removes(
    roles: list[RoleSpec], extra: RoleSpec, app: AppFacts, user_traits: Traits
) -> None:
    before = allowed_aws_roles(roles, user_traits, app)
    assert before <= allowed_aws_roles([*roles, extra], user_traits, app)


@PROPERTY
@given(roles=role_lists, extra=role_specs(allow=False), app=apps(), user_traits=traits)
def test_adding_a_deny_never_adds(
    roles: list[RoleSpec], extra: RoleSpec, app: AppFacts, user_traits: Traits
) -> None:
    before = allowed_aws_roles(roles, user_traits, app)
    assert allowed_aws_roles([*roles, extra], user_traits, app) <= before


@PROPERTY
@given(roles=role_lists, app_list=st.lists(apps(), max_size=5), user_traits=traits)
def test_every_entry_point_agrees(
    roles: list[RoleSpec], app_list: list[AppFacts], user_traits: Traits
) -> None:
    compiled = [compile_role(r) for r in roles]
    expected = [(a, allowed_aws_roles(roles, user_traits, a)) for a in app_list]
    listed = accessible_apps(compiled, user_traits, app_list)
    assert [(a, set(arns)) for a, arns in listed] == [(a, s) for a, s in expected if s]
    shuffled = list(roles)
    random.Random(len(app_list)).shuffle(shuffled)
    for app, allowed in expected:
        # Results are within the profile and the account, and strict ARNs.
        assert allowed <= app.role_arns
        assert all(is_valid_role_arn(arn) and f"::{app.account_id}:" in arn for arn in allowed)
        assert set(explain(roles, user_traits, app).allowed_arns) == allowed
        assert allowed_aws_roles(shuffled, user_traits, app) == allowed


@PROPERTY
@given(
    roles=role_lists,
    shared=role_specs(),
    app_list=st.lists(apps(), max_size=6),
    user_traits=traits,
)
def test_listing_agrees_with_one_app_at_a_time(
    roles: list[RoleSpec], shared: RoleSpec, app_list: list[AppFacts], user_traits: Traits
) -> None:
    # Copies of one role under other names share its selectors: the listing walks each distinct
    # selector once for all of them, and must still answer as the per-app decision does.
    copies = [dataclasses.replace(shared, name=f"{shared.name}-{n}") for n in range(3)]
    every = [*roles, *copies]
    named = [dataclasses.replace(app, name=f"{app.name}-{n}") for n, app in enumerate(app_list)]
    expected = [
        (app, tuple(sorted(allowed)))
        for app in named
        if (allowed := allowed_aws_roles(every, user_traits, app))
    ]
    assert accessible_apps(every, user_traits, named) == expected
