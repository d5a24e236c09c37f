"""The one issuance path, called directly (as the CLI API does): names, durations, refusals."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from apps.access.services import role_create
from apps.audit.models import AuditEvent
from apps.resources.errors import AppNotFound
from apps.resources.services import (
    aws_credentials_issue,
    role_session_name_for,
    session_duration_seconds,
)
from tests.resources.conftest import ACCESS_ROLE, LaunchScenario

SESSION_NAME_RE = re.compile(r"[A-Za-z0-9+_=,.@-]{2,64}\Z")


def _hashed(username: str, sanitized: str) -> str:
    return f"{sanitized}-{hashlib.sha256(username.encode()).hexdigest()[:16]}"


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("alice", "alice"),
        ("alice@example.com", "alice@example.com"),
        ("x+y", "x+y"),
        ("x_y", "x_y"),
        ("jane doe+ops", _hashed("jane doe+ops", "jane_doe+ops")),
        ("zoë", _hashed("zoë", "zo_")),
        ("\u0430dmin", _hashed("\u0430dmin", "_dmin")),  # Cyrillic a: not "admin", not "_dmin"
        ("a", _hashed("a", "a")),
        ("x=y,z.w-v_u", "x=y,z.w-v_u"),
        # A valid name that looks hashed is hashed itself, so it cannot collide with one.
        ("zo_-0123456789abcdef", _hashed("zo_-0123456789abcdef", "zo_-0123456789abcdef")),
    ],
)
def test_role_session_name(username: str, expected: str) -> None:
    assert role_session_name_for(username) == expected
    assert SESSION_NAME_RE.match(expected)


def test_long_session_names_stay_distinct_and_within_64() -> None:
    first = role_session_name_for("u" * 100)
    second = role_session_name_for("u" * 99 + "v")
    assert len(first) == len(second) == 64
    assert first != second
    assert SESSION_NAME_RE.match(first)


@pytest.mark.parametrize(
    ("ttl", "profile", "requested", "expected"),
    [
        (timedelta(hours=8), 3600, None, 3600),  # the profile is the shortest
        (timedelta(hours=1), 43200, None, 3600),  # the user's TTL is the shortest
        (timedelta(hours=24), 43200, None, 43200),  # capped at 12 h
        (timedelta(hours=8), 43200, 1800, 1800),  # the caller asked for less
        (timedelta(minutes=5), 3600, None, 900),  # never below 15 minutes
        (timedelta(hours=8), 3600, 60, 900),
    ],
)
def test_session_duration(
    ttl: timedelta, profile: int, requested: int | None, expected: int
) -> None:
    assert (
        session_duration_seconds(max_session_ttl=ttl, profile_seconds=profile, requested=requested)
        == expected
    )


@pytest.mark.django_db
def test_cli_issuance_applies_the_role_ttl(launch_scenario: LaunchScenario) -> None:
    scenario = launch_scenario
    role_create(
        actor=None,
        name=ACCESS_ROLE,
        force=True,
        spec={
            "allow": {
                "app_labels": {"rolegate.dev/integration": "aws-prod"},
                "aws_role_arns": [scenario.role_arn],
            },
            "options": {"max_session_ttl": "30m"},
        },
    )
    app = scenario.add_profile("LongSessions", duration_seconds=43200)
    started = datetime.now(UTC)

    credentials = aws_credentials_issue(
        actor=scenario.alice, app_name=app.name, role_arn=scenario.role_arn, purpose="cli"
    )

    lifetime = (credentials.expiration - started).total_seconds()
    assert 1800 - 60 <= lifetime <= 1800 + 60
    event = AuditEvent.objects.get(event_type="aws_credentials.issued", outcome="success")
    assert event.details["duration_seconds"] == 1800
    assert event.details["purpose"] == "cli"
    assert "console_region" not in event.details
    assert credentials.assumed_role_arn is not None
    # AWS's zero padding of the hex serial is undocumented: compare without leading zeros.
    serial = event.details["certificate_serial"].lower().lstrip("0")
    session = credentials.assumed_role_arn.rsplit("/", 1)[1].lower().lstrip("0")
    assert session == serial


@pytest.mark.django_db
def test_unknown_and_hidden_apps_read_the_same(launch_scenario: LaunchScenario) -> None:
    scenario = launch_scenario
    with pytest.raises(AppNotFound) as missing:
        aws_credentials_issue(
            actor=scenario.alice, app_name="nope", role_arn=scenario.role_arn, purpose="cli"
        )
    # Same exception type too, so no caller (web or API status code) can tell them apart.
    with pytest.raises(AppNotFound) as hidden:
        aws_credentials_issue(
            actor=scenario.bob,
            app_name=scenario.app.name,
            role_arn=scenario.role_arn,
            purpose="cli",
        )
    assert missing.value.message.replace("'nope'", "X") == hidden.value.message.replace(
        repr(scenario.app.name), "X"
    )
    outcomes = list(
        AuditEvent.objects.filter(event_type="aws_credentials.issued").values_list(
            "actor_name", "outcome", "target_name"
        )
    )
    assert sorted(outcomes) == [
        ("alice", "denied", "nope"),
        ("bob", "denied", scenario.app.name),
    ]
