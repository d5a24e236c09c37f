"""`rolegate console` (POST /api/v1/apps/NAME/console) ends with the CLI login, as credentials do.

Against the sandbox over HTTP: the console session is sized from the same plan as the CLI's
credentials, so a login with 20 minutes left cannot open a console for the role's full hour.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.api.models import ApiToken
from apps.audit.models import AuditEvent
from tests.revocation.conftest import KillScenario

pytestmark = pytest.mark.django_db


def test_a_console_launch_through_the_api_is_bounded_by_the_cli_login(
    kill: KillScenario, token_for: object
) -> None:
    kill.grant(kill.alice, "2h")  # the grant outlasts the login: the login is what ends first
    api = token_for(kill.alice)  # type: ignore[operator]
    ends = timezone.now() + timedelta(minutes=20)
    ApiToken.objects.filter(user=kill.alice).update(expires_at=ends)

    answer = api.post(f"/apps/{kill.base.app.name}/console", {"role_arn": kill.base.role_arn})

    assert answer.status_code == 200, answer.content
    issued = AuditEvent.objects.filter(
        event_type="aws_credentials.issued", outcome="success"
    ).latest("id")
    assert issued.details["purpose"] == "console"
    assert issued.details["duration_seconds"] <= 20 * 60
    assert issued.details["duration_reason"] == "capped at access end (login expires)"
