"""Access that really ends: credentials bounded by the grant, and live sessions revoked.

End to end against the sandbox over HTTP: Rolegate issues real Roles Anywhere credentials,
writes `RolegateRevokedSessions` through IAM as the sync role, and the sandbox evaluates it on
every S3 call as AWS would.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.access.errors import AccessDenied
from apps.accounts.services import user_apply, user_save_from_admin
from apps.audit.models import AuditEvent
from apps.integrations.models import Integration
from apps.integrations.models_revocation import RevocationRun, RevokedSession
from apps.integrations.revocation.policy import POLICY_NAME, source_identity_for
from apps.integrations.revocation.services import (
    app_sessions_revoke,
    revocation_push,
    sessions_revoke,
    user_sessions_revoke,
)
from apps.integrations.selectors import integration_health
from tests.resources.conftest import ACCESS_ROLE
from tests.revocation.conftest import KillScenario, enable_revocation

pytestmark = pytest.mark.django_db


def _seconds_left(credentials: object) -> float:
    expiration: datetime = credentials.expiration  # type: ignore[attr-defined]
    return float((expiration - datetime.now(UTC)).total_seconds())


def test_grant_bounds_credentials_and_ending_it_revokes_the_same_credentials(
    kill: KillScenario,
) -> None:
    grant = kill.grant(kill.alice, "30m")
    alice = kill.credentials(kill.alice)
    bob = kill.credentials(kill.bob)
    # Capped at the grant's end (30 minutes), not the profile's hour.
    assert alice.expiration <= grant.access_ends_at
    assert _seconds_left(alice) > 25 * 60
    assert _seconds_left(bob) > 55 * 60
    issued = AuditEvent.objects.filter(event_type="aws_credentials.issued", actor_name="alice")
    details = issued.latest("id").details
    assert details["duration_reason"].startswith("capped at access end")
    assert details["access_ends_at"].startswith(grant.access_ends_at.strftime("%Y-%m-%dT%H:%M"))
    assert kill.s3_works(alice) and kill.s3_works(bob)

    started = time.monotonic()
    kill.end(grant)
    while kill.s3_works(alice):
        assert time.monotonic() - started < 10, "the ended grant's credentials still work"
        time.sleep(0.1)
    # The same credentials are refused, bob's keep working.
    assert not kill.s3_works(alice)
    assert kill.s3_works(bob)
    revoked = AuditEvent.objects.filter(event_type="sessions.revoked").latest("id")
    assert revoked.details["username"] == "alice"
    assert revoked.details["role_arns"] == [kill.base.role_arn]
    pushed = AuditEvent.objects.filter(event_type="sessions.revocation_pushed").latest("id")
    assert pushed.details["roles_written"] == 1

    # A new grant works at once, the old credentials stay dead.
    kill.grant(kill.alice, "30m")
    fresh = kill.credentials(kill.alice)
    assert kill.s3_works(fresh)
    assert not kill.s3_works(alice)


def test_the_policy_document_is_what_aws_expects_field_by_field(kill: KillScenario) -> None:
    grant = kill.grant(kill.alice, "30m")
    before = timezone.now()
    kill.end(grant)
    document = kill.policy()
    assert document is not None
    assert set(document) == {"Version", "Statement"}
    assert document["Version"] == "2012-10-17"
    (statement,) = document["Statement"]
    assert set(statement) == {"Sid", "Effect", "Action", "Resource", "Condition"}
    assert statement["Sid"].isalnum() and statement["Sid"].startswith("RolegateRevoke")
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == "*"
    assert statement["Resource"] == "*"
    assert set(statement["Condition"]) == {"StringEquals", "DateLessThan"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceIdentity": "CN=alice"}
    (key, stamp) = next(iter(statement["Condition"]["DateLessThan"].items()))
    assert key == "aws:TokenIssueTime"
    # ISO 8601 in UTC with whole seconds, rounded up from the moment the grant ended.
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before.replace(microsecond=0) <= moment <= before + timedelta(seconds=2)
    assert POLICY_NAME == "RolegateRevokedSessions"
    # The sync role wrote it (the role used for everything Rolegate does in AWS).
    assert RevocationRun.objects.latest("id").status == "SUCCESS"


def test_short_grant_gets_900_seconds_with_the_kill_switch_and_a_refusal_without(
    kill: KillScenario,
) -> None:
    grant = kill.grant(kill.alice, "10m")
    armed = kill.credentials(kill.alice)
    assert 880 <= _seconds_left(armed) <= 900
    details = AuditEvent.objects.filter(event_type="aws_credentials.issued").latest("id").details
    assert "under AWS's 900 s minimum" in details["duration_reason"]
    # Natural expiry: the beat marks the grant ended and revokes the 900-second session.
    with (
        kill.capture(execute=True),
        time_machine.travel(grant.access_ends_at + timedelta(seconds=1)),
    ):
        from apps.access.requests.services import access_requests_expire

        assert access_requests_expire().ended == 1
    assert not kill.s3_works(armed)

    enable_revocation(kill.base, enabled=False)
    kill.grant(kill.alice, "10m")
    with pytest.raises(AccessDenied) as refused:
        kill.credentials(kill.alice)
    assert "shorter than the 15-minute minimum AWS allows; ask for an extension" in str(
        refused.value
    )
    assert "ends in 9 minutes" in str(refused.value)
    refusal = AuditEvent.objects.filter(event_type="aws_credentials.issued").latest("id")
    assert refusal.outcome == AuditEvent.Outcome.DENIED
    assert "15-minute minimum" in refusal.details["reason"]
    assert refusal.details["access_ends_at"]


def test_api_credentials_are_bounded_by_the_login_and_the_grant(
    kill: KillScenario, token_for: object
) -> None:
    grant = kill.grant(kill.alice, "45m")
    api = token_for(kill.alice)  # type: ignore[operator]
    answer = api.post(f"/apps/{kill.base.app.name}/credentials", {"role_arn": kill.base.role_arn})
    assert answer.status_code == 200, answer.content
    expiration = datetime.fromisoformat(answer.json()["Expiration"].replace("Z", "+00:00"))
    assert expiration <= grant.access_ends_at
    listed = api.get("/apps").json()["items"]
    assert listed[0]["grant_ends_at"] is not None
    me = api.get("/me").json()
    assert [g["role"] for g in me["grants"]] == [ACCESS_ROLE]


def test_deactivation_and_role_removal_revoke(kill: KillScenario) -> None:
    bob = kill.credentials(kill.bob)
    assert kill.s3_works(bob)
    with kill.capture(execute=True):
        user_apply(actor=None, username="bob", roles=[], traits={}, force=True)
    assert not kill.s3_works(bob)
    assert RevokedSession.objects.get(source_identity="CN=bob").reason == "role assignment changed"

    kill.bob.refresh_from_db()
    kill.bob.roles = [ACCESS_ROLE]
    kill.bob.save()
    again = kill.credentials(kill.bob)
    assert kill.s3_works(again)
    kill.bob.is_active = False
    with kill.capture(execute=True):
        user_save_from_admin(actor=kill.carol, user=kill.bob, created=False)
    assert not kill.s3_works(again)
    assert RevokedSession.objects.get(source_identity="CN=bob").reason == "user deactivated"


def test_staff_actions_revoke_a_user_or_every_session_of_a_role(kill: KillScenario) -> None:
    kill.grant(kill.alice, "1h")
    alice = kill.credentials(kill.alice)
    bob = kill.credentials(kill.bob)
    with kill.capture(execute=True):
        assert user_sessions_revoke(actor=kill.carol, user=kill.bob) == 1
    assert not kill.s3_works(bob) and kill.s3_works(alice)
    with kill.capture(execute=True):
        app_sessions_revoke(actor=kill.carol, app_name=kill.base.app.name)
    assert not kill.s3_works(alice)
    document = kill.policy()
    assert document is not None
    statements = {s["Sid"]: s for s in document["Statement"]}
    everyone = statements["RolegateRevokeAllSessionsBefore"]
    assert set(everyone["Condition"]) == {"DateLessThan"}
    # Credentials issued after a revocation work (bob keeps his standing role).
    assert kill.s3_works(kill.credentials(kill.bob))
    assert kill.s3_works(kill.credentials(kill.alice))


def test_entries_are_pruned_after_the_longest_session(kill: KillScenario) -> None:
    grant = kill.grant(kill.alice, "30m")
    kill.end(grant)
    assert kill.policy() is not None
    with time_machine.travel(timezone.now() + timedelta(hours=12, minutes=6)):
        outcome = revocation_push(integration_id=kill.base.app.integration_id, reason="test")
    assert outcome is not None and outcome.status == "SUCCESS"
    assert outcome.roles_cleared == 1
    assert not RevokedSession.objects.exists()
    assert kill.policy() is None


def test_size_limit_falls_back_to_revoking_every_older_session(kill: KillScenario) -> None:
    integration_id = kill.base.app.integration_id
    alice = kill.credentials(kill.grant(kill.alice, "1h").requester)
    bob = kill.credentials(kill.bob)
    with kill.capture(execute=True):
        for index in range(60):
            sessions_revoke(
                actor=None,
                integration_id=integration_id,
                role_arns=[kill.base.role_arn],
                username=f"user-{index:03d}-with-a-long-name",
                reason="bulk",
            )
    document = kill.policy()
    assert document is not None
    (statement,) = document["Statement"]
    assert statement["Sid"] == "RolegateRevokeAllSessionsBefore"
    assert set(statement["Condition"]) == {"DateLessThan"}
    assert not kill.s3_works(alice) and not kill.s3_works(bob)
    run = RevocationRun.objects.latest("id")
    assert run.fallback_roles == [kill.base.role_arn]
    pushed = AuditEvent.objects.filter(event_type="sessions.revocation_pushed").latest("id")
    assert pushed.details["fallback_roles"] == [kill.base.role_arn]
    # New credentials are not affected.
    time.sleep(1.1)
    assert kill.s3_works(kill.credentials(kill.bob))


def test_a_failing_push_is_retried_shown_and_audited(kill: KillScenario) -> None:
    grant = kill.grant(kill.alice, "30m")
    alice = kill.credentials(kill.alice)
    kill.base.sandbox.faults.fail("iam:PutRolePolicy", status=500, count=1)
    kill.end(grant)
    runs = list(RevocationRun.objects.order_by("id"))
    assert [run.status for run in runs] == ["ERROR", "SUCCESS"]
    assert [run.attempt for run in runs] == [1, 2]
    assert not kill.s3_works(alice)
    failed = AuditEvent.objects.filter(event_type="sessions.revocation_failed").latest("id")
    assert (
        failed.outcome == AuditEvent.Outcome.ERROR and "InternalFailure" in failed.details["error"]
    )

    # A push that keeps failing stays visible on the integration's health and page.
    second = kill.grant(kill.alice, "30m")
    kill.base.sandbox.faults.fail("iam:PutRolePolicy", status=500, count=100)
    kill.end(second)
    assert RevocationRun.objects.latest("id").status == "ERROR"
    integration = Integration.objects.get(pk=kill.base.app.integration_id)
    health = integration_health(integration)
    assert health.state == "error" and "session revocation" in health.summary
    from django.test import Client

    staff = Client()
    kill.carol.is_staff = True
    kill.carol.is_superuser = True
    kill.carol.save()
    staff.force_login(kill.carol)
    page = staff.get(f"/manage/integrations/{integration.name}/").content.decode()
    assert "Session revocation" in page and "InternalFailure" in page
    kill.base.sandbox.faults.clear()


def test_source_identity_matches_roles_anywhere_rule() -> None:
    assert source_identity_for("alice") == "CN=alice"
    assert source_identity_for("a" * 61) == "CN=" + "a" * 61
    assert source_identity_for("b" * 62) == "b" * 62


def test_a_role_change_that_removes_the_arn_revokes(kill: KillScenario) -> None:
    from apps.access.services import role_update

    bob = kill.credentials(kill.bob)
    with kill.capture(execute=True):
        role_update(
            actor=None,
            name=ACCESS_ROLE,
            spec={"allow": {"app_labels": {"rolegate.dev/integration": "aws-prod"}}},
        )
    assert not kill.s3_works(bob)
    assert "changed" in RevokedSession.objects.get(source_identity="CN=bob").reason
