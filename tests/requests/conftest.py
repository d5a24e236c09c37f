"""Access request fixtures: a requester, two reviewers, an outsider and an operator.

Roles: `developer` may request `db-*` roles (policy passed per test through `request_policy`),
`db-admin` and `db-reader` are requestable targets, `approver` may review `db-*` requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from apps.access.services import role_create, role_update
from tests.api.conftest import token_for  # noqa: F401 - fixture
from tests.resources.conftest import LaunchScenario, launch_scenario  # noqa: F401 - fixture

TARGET_ROLE = "db-admin"
OTHER_TARGET = "db-reader"
ROLE_ARN = "arn:aws:iam::123456789012:role/DbAdmin"


@dataclass
class People:
    """The personas of the request tests."""

    alice: Any  # requester (developer)
    rita: Any  # reviewer (approver)
    ray: Any  # second reviewer (approver)
    bob: Any  # no roles at all
    outsider: Any  # holds a role, but may not review db-* requests
    operator: Any  # staff, no review rights

    def set_policy(self, **request: Any) -> None:
        """Replace the developer role's `allow.request` block."""
        role_update(
            actor=None,
            name="developer",
            spec={"allow": {"request": {"roles": ["db-*"], **request}}},
        )


@pytest.fixture
def people(make_user: Any) -> People:
    """Roles and users for the request tests (thresholds 1/1 unless a test changes them)."""
    role_create(
        actor=None,
        name=TARGET_ROLE,
        spec={"allow": {"app_labels": {"team": "db"}, "aws_role_arns": [ROLE_ARN]}},
    )
    role_create(actor=None, name=OTHER_TARGET, spec={"allow": {"app_labels": {"team": "db"}}})
    role_create(actor=None, name="developer", spec={"allow": {"request": {"roles": ["db-*"]}}})
    role_create(
        actor=None, name="approver", spec={"allow": {"review_requests": {"roles": ["db-*"]}}}
    )
    role_create(
        actor=None, name="web-approver", spec={"allow": {"review_requests": {"roles": ["web-*"]}}}
    )
    return People(
        alice=make_user("alice", roles=["developer"], email="alice@example.test"),
        rita=make_user("rita", roles=["approver"], email="rita@example.test"),
        ray=make_user("ray", roles=["approver"], email="ray@example.test"),
        bob=make_user("bob"),
        outsider=make_user("otto", roles=["web-approver"], email="otto@example.test"),
        operator=make_user("operator", is_staff=True, email="ops@example.test"),
    )
