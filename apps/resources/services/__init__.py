"""Writes for AWS apps, split by topic: the one credential-issuance path (`issuance`), the
console launch (`console`), and per-user pins (`pins`); `refusals` holds what the first two share
(audited refusals, the rate limit, AWS errors as `IssuanceError`).

The package re-exports the public names; patch a name where it is looked up (the topic module),
not here.
"""

from __future__ import annotations

from apps.resources.issuance_audit import EVENT_CREDENTIALS_ISSUED, EVENT_CREDENTIALS_REQUESTED
from apps.resources.services.console import (
    EVENT_CONSOLE_SIGNIN,
    ConsoleLaunch,
    console_destination_for,
    console_launch,
    console_region_for,
)
from apps.resources.services.issuance import (
    MAX_DURATION_SECONDS,
    MIN_DURATION_SECONDS,
    aws_credentials_issue,
    role_session_name_for,
    session_duration_seconds,
)
from apps.resources.services.pins import app_pin_set

__all__ = [
    "EVENT_CONSOLE_SIGNIN",
    "EVENT_CREDENTIALS_ISSUED",
    "EVENT_CREDENTIALS_REQUESTED",
    "MAX_DURATION_SECONDS",
    "MIN_DURATION_SECONDS",
    "ConsoleLaunch",
    "app_pin_set",
    "aws_credentials_issue",
    "console_destination_for",
    "console_launch",
    "console_region_for",
    "role_session_name_for",
    "session_duration_seconds",
]
