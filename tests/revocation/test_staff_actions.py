"""Staff 'Revoke AWS sessions' in the admin (users, apps) and `manage.py revoke_sessions`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.audit.models import AuditEvent
from tests.revocation.conftest import KillScenario

pytestmark = pytest.mark.django_db


def _admin(kill: KillScenario) -> Client:
    kill.carol.is_staff = True
    kill.carol.is_superuser = True
    kill.carol.save()
    client = Client()
    client.force_login(kill.carol)
    return client


def test_admin_action_on_a_user(kill: KillScenario) -> None:
    bob = kill.credentials(kill.bob)
    client = _admin(kill)
    with kill.capture(execute=True):
        answer = client.post(
            "/admin/accounts/user/",
            {"action": "revoke_aws_sessions", "_selected_action": [kill.bob.pk]},
        )
    assert answer.status_code == 302
    assert not kill.s3_works(bob)
    event = AuditEvent.objects.filter(event_type="sessions.revoked").latest("id")
    assert event.actor_name == "carol" and event.details["username"] == "bob"


def test_admin_action_on_an_app_revokes_every_user(kill: KillScenario) -> None:
    kill.grant(kill.alice, "1h")
    alice, bob = kill.credentials(kill.alice), kill.credentials(kill.bob)
    client = _admin(kill)
    with kill.capture(execute=True):
        answer = client.post(
            "/admin/resources/awsapp/",
            {"action": "revoke_aws_sessions", "_selected_action": [kill.base.app.pk]},
        )
    assert answer.status_code == 302
    assert not kill.s3_works(alice) and not kill.s3_works(bob)


def test_the_command(kill: KillScenario) -> None:
    bob = kill.credentials(kill.bob)
    out = io.StringIO()
    call_command("revoke_sessions", "--user", "bob", stdout=out)
    assert "aws-prod: SUCCESS, 1 role(s) written" in out.getvalue()
    assert not kill.s3_works(bob)
    with pytest.raises(CommandError, match="not found"):
        call_command("revoke_sessions", "--user", "nobody")
    with pytest.raises(CommandError, match="does not list the role"):
        call_command(
            "revoke_sessions", "--app", kill.base.app.name, "--role", "arn:aws:iam::1:role/X"
        )
