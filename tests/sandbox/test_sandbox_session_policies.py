"""The sandbox evaluates a role's inline policies with conditions for Roles Anywhere sessions.

As on AWS: a Deny keyed on `aws:SourceIdentity` and `aws:TokenIssueTime` ends exactly the
sessions it names, explicit Deny wins over the managed ReadOnlyAccess Allow, an unmet condition
makes a statement not apply (it is not a Deny), and `sts:GetCallerIdentity` is never denied.
The policy is put and read through the IAM API only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox import permissions
from tests.sandbox.sandbox_helpers import Scenario, client

POLICY = "RolegateRevokedSessions"


def _deny(identity: str | None, before: datetime, operator: str = "DateLessThan") -> dict[str, Any]:
    condition: dict[str, Any] = {
        operator: {"aws:TokenIssueTime": before.strftime("%Y-%m-%dT%H:%M:%SZ")}
    }
    if identity is not None:
        condition["StringEquals"] = {"aws:SourceIdentity": identity}
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition}],
    }


def _session(scenario: Scenario, cn: str) -> dict[str, str]:
    result = scenario.create_session(scenario.leaf(cn))
    assert result.status == 201, result.body
    return result.credentials


def _s3_denied(scenario: Scenario, credentials: dict[str, str]) -> bool:
    try:
        client("s3", scenario.sandbox, credentials).list_buckets()
    except ClientError as error:
        code = error.response["Error"]["Code"]
    else:
        return False
    if code != "AccessDenied":
        raise AssertionError(f"expected AccessDenied, got {code}")
    return True


def _put(scenario: Scenario, document: dict[str, Any]) -> None:
    iam = client("iam", scenario.sandbox, scenario.operator)
    iam.put_role_policy(
        RoleName="ExampleReadOnlyAccess", PolicyName=POLICY, PolicyDocument=json.dumps(document)
    )


def test_deny_on_source_identity_and_issue_time_ends_only_that_users_older_sessions(
    scenario: Scenario,
) -> None:
    alice = _session(scenario, "alice")
    bob = _session(scenario, "bob")
    assert not _s3_denied(scenario, alice)
    assert not _s3_denied(scenario, bob)

    _put(scenario, _deny("CN=alice", datetime.now(UTC) + timedelta(seconds=2)))
    assert _s3_denied(scenario, alice)
    assert not _s3_denied(scenario, bob)
    # Like AWS, GetCallerIdentity works whatever the policy says.
    identity = client("sts", scenario.sandbox, alice).get_caller_identity()
    assert ":assumed-role/ExampleReadOnlyAccess/" in identity["Arn"]

    # A session issued after the revocation time is not affected.
    scenario.sandbox.clock_offset = timedelta(seconds=5)
    fresh = _session(scenario, "alice")
    assert not _s3_denied(scenario, fresh)
    assert _s3_denied(scenario, alice)


def test_without_source_identity_every_older_session_is_denied(scenario: Scenario) -> None:
    alice = _session(scenario, "alice")
    bob = _session(scenario, "bob")
    _put(scenario, _deny(None, datetime.now(UTC) + timedelta(seconds=2)))
    assert _s3_denied(scenario, alice)
    assert _s3_denied(scenario, bob)


def test_unmet_conditions_do_not_deny(scenario: Scenario) -> None:
    alice = _session(scenario, "alice")
    # The revocation time lies before the session was issued: nothing is denied.
    _put(scenario, _deny("CN=alice", datetime.now(UTC) - timedelta(minutes=5)))
    assert not _s3_denied(scenario, alice)
    # DateGreaterThan on the same key: sessions issued after a time.
    _put(scenario, _deny("CN=alice", datetime.now(UTC) - timedelta(minutes=5), "DateGreaterThan"))
    assert _s3_denied(scenario, alice)
    # StringLike matches a wildcard identity.
    document = _deny(None, datetime.now(UTC) + timedelta(seconds=2))
    document["Statement"][0]["Condition"]["StringLike"] = {"aws:SourceIdentity": "CN=al*"}
    _put(scenario, document)
    assert _s3_denied(scenario, alice)
    bob = _session(scenario, "bob")
    assert not _s3_denied(scenario, bob)


def test_deleting_the_policy_restores_access(scenario: Scenario) -> None:
    alice = _session(scenario, "alice")
    _put(scenario, _deny("CN=alice", datetime.now(UTC) + timedelta(seconds=2)))
    assert _s3_denied(scenario, alice)
    client("iam", scenario.sandbox, scenario.operator).delete_role_policy(
        RoleName="ExampleReadOnlyAccess", PolicyName=POLICY
    )
    assert not _s3_denied(scenario, alice)


@pytest.mark.parametrize(
    ("operator", "expected", "actual", "holds"),
    [
        ("StringEquals", "CN=alice", "CN=alice", True),
        ("StringEquals", "CN=alice", "CN=alice2", False),
        ("StringNotEquals", "CN=alice", "CN=bob", True),
        ("StringLike", "CN=a*", "CN=alice", True),
        ("DateLessThan", "2026-01-01T00:00:01Z", "2026-01-01T00:00:00Z", True),
        ("DateLessThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", False),
        ("DateLessThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
        ("DateGreaterThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", True),
        ("DateGreaterThanEquals", "2026-01-01T00:00:01Z", "2026-01-01T00:00:00Z", False),
        ("DateLessThan", "not a date", "2026-01-01T00:00:00Z", False),
    ],
)
def test_condition_operators(operator: str, expected: str, actual: str, holds: bool) -> None:
    assert permissions.condition_holds(operator, "aws:Key", expected, {"aws:key": actual}) is holds


def test_missing_keys_follow_iam_rules() -> None:
    assert permissions.condition_holds("StringEquals", "aws:SourceIdentity", "x", {}) is False
    assert permissions.condition_holds("StringNotEquals", "aws:SourceIdentity", "x", {}) is True
    assert permissions.condition_holds("StringEqualsIfExists", "aws:SourceIdentity", "x", {})
    assert permissions.condition_holds("Null", "aws:SourceIdentity", "true", {}) is True
    assert permissions.condition_holds("Null", "aws:SourceIdentity", "false", {}) is False
