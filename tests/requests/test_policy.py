"""The request policy in role specs: accepted shapes, defaults, and every refusal named by path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rbac.spec import (
    RequestPolicy,
    RoleSpecError,
    parse_role_spec,
    request_policy,
    review_policy,
)


def test_defaults_and_full_shape() -> None:
    assert request_policy({"roles": ["db-*"]}) == RequestPolicy(roles=("db-*",))
    full = request_policy(
        {
            "roles": ["db-admin", "^web-.*$"],
            "max_duration": "4h",
            "reason": {"mode": "required"},
            "thresholds": [{"approve": 2, "deny": 1}],
        }
    )
    assert full == RequestPolicy(
        roles=("db-admin", "^web-.*$"),
        max_duration=timedelta(hours=4),
        reason_required=True,
        approvals=2,
        denials=1,
    )
    assert request_policy({"thresholds": {"approve": 3}}).approvals == 3
    assert review_policy({"roles": ["db-*"]}).roles == ("db-*",)


def test_stored_form_is_what_the_author_wrote() -> None:
    spec = {"allow": {"request": {"roles": ["admin"], "reason": {"mode": "optional"}}}}
    assert parse_role_spec("r", spec).to_dict()["allow"]["request"] == spec["allow"]["request"]


@pytest.mark.parametrize(
    ("request_block", "field", "words"),
    [
        ({"roles": "db-*"}, "spec.allow.request.roles", "list of role names"),
        ({"roles": ["^(bad$"]}, "spec.allow.request.roles", "invalid regular expression"),
        ({"max_duration": "forever"}, "spec.allow.request.max_duration", "not a duration"),
        ({"max_duration": "200h"}, "spec.allow.request.max_duration", "outside 5m..168h"),
        ({"reason": {"mode": "sometimes"}}, "spec.allow.request.reason", "mode: required"),
        ({"reason": "required"}, "spec.allow.request.reason", "mode: required"),
        ({"thresholds": [{"approve": 0}]}, "spec.allow.request.thresholds[0].approve", "1 to 10"),
        ({"thresholds": [{"deny": True}]}, "spec.allow.request.thresholds[0].deny", "1 to 10"),
        ({"thresholds": [{"approve": 1}, {"approve": 2}]}, "spec.allow.request.thresholds", "one"),
        (
            {"thresholds": [{"approvals": 2}]},
            "spec.allow.request.thresholds[0].approvals",
            "unknown",
        ),
        ({"max_duraton": "4h"}, "spec.allow.request.max_duraton", "unknown field"),
    ],
)
def test_refusals_name_the_field(request_block: Any, field: str, words: str) -> None:
    with pytest.raises(RoleSpecError) as caught:
        parse_role_spec("r", {"allow": {"request": request_block}})
    messages = {error.field: error.message for error in caught.value.errors}
    assert field in messages, messages
    assert words in messages[field]


def test_deny_and_review_blocks_only_take_roles() -> None:
    with pytest.raises(RoleSpecError, match=r"spec.deny.request.max_duration: unknown field"):
        parse_role_spec("r", {"deny": {"request": {"roles": ["x"], "max_duration": "1h"}}})
    with pytest.raises(RoleSpecError, match=r"spec.allow.review_requests.where: unknown field"):
        parse_role_spec("r", {"allow": {"review_requests": {"roles": ["x"], "where": "y"}}})
    parse_role_spec(
        "r", {"deny": {"request": {"roles": ["x"]}, "review_requests": {"roles": ["y"]}}}
    )
