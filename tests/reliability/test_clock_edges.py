"""Clock edges: a leaf certificate at its validity boundaries against the sandbox, the CA's own
expiry, access-request grants at their end, and the sandbox clock skewed by 4 and 6 minutes.

The sandbox has its own clock (`sandbox.clock_offset`), as AWS does; the portal's clock is moved
with time-machine. Both run in this process, so time-machine moves the sandbox too, and the
offset then expresses how far AWS's clock is from Rolegate's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

import awsra
from apps.access.errors import AccessDenied
from apps.access.requests import services as requests_services
from apps.access.services import role_create
from apps.api.services import token_create
from apps.audit.models import AuditEvent
from apps.authority.models import CertificateAuthority
from apps.authority.services import certificate_issue
from apps.resources.errors import AppNotFound
from apps.resources.services import aws_credentials_issue
from tests.resources.conftest import ACCESS_ROLE, LaunchScenario

pytestmark = pytest.mark.django_db

ISSUED = "aws_credentials.issued"


def create_session_with(scenario: LaunchScenario, leaf: Any) -> awsra.Credentials:
    """CreateSession with a leaf the authority issued, as the issuance path does."""
    return awsra.create_session(
        certificate=leaf.certificate,
        private_key=leaf.private_key,
        chain=leaf.chain,
        trust_anchor_arn=scenario.anchor_arn,
        profile_arn=scenario.profile_arn,
        role_arn=scenario.role_arn,
        max_attempts=1,
    )


def set_sandbox_now(scenario: LaunchScenario, moment: datetime) -> None:
    """Move the sandbox's clock so that its "now" is `moment` (Rolegate's clock stays put)."""
    scenario.sandbox.clock_offset = moment - datetime.now(UTC)


@pytest.fixture
def certificate_checks_only(launch_scenario: LaunchScenario) -> Iterator[LaunchScenario]:
    """The sandbox with its request-date check widened, so only the leaf's validity decides."""
    sandbox = launch_scenario.sandbox
    sandbox.max_skew = timedelta(hours=1)
    try:
        yield launch_scenario
    finally:
        sandbox.max_skew = timedelta(minutes=5)


def api_client(user: Any) -> Client:
    token = token_create(actor=user, user=user, method="password").plaintext
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def api_credentials(client: Client, scenario: LaunchScenario) -> Any:
    return client.post(
        f"/api/v1/apps/{scenario.app.name}/credentials",
        {"role_arn": scenario.role_arn},
        content_type="application/json",
    )


def web_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def launch(client: Client, scenario: LaunchScenario) -> Any:
    return client.post(f"/apps/{scenario.app.name}/launch", {"role": scenario.role_arn})


# -- the leaf certificate at its boundaries --------------------------------------------------


def test_leaf_is_accepted_until_not_after_and_refused_after(
    certificate_checks_only: LaunchScenario,
) -> None:
    scenario = certificate_checks_only
    leaf = certificate_issue(
        subject_cn="alice", purpose="clock-test", ttl=timedelta(minutes=1), actor=None
    )
    not_after = leaf.certificate.not_valid_after_utc

    set_sandbox_now(scenario, not_after - timedelta(seconds=1))
    assert create_session_with(scenario, leaf).access_key_id

    set_sandbox_now(scenario, not_after + timedelta(seconds=1))
    with pytest.raises(awsra.AwsError) as refused:
        create_session_with(scenario, leaf)
    assert refused.value.code == "AccessDeniedException"
    assert "expired" in refused.value.message


def test_leaf_backdating_covers_an_aws_clock_up_to_five_minutes_behind(
    certificate_checks_only: LaunchScenario,
) -> None:
    scenario = certificate_checks_only
    leaf = certificate_issue(
        subject_cn="alice", purpose="clock-test", ttl=timedelta(minutes=1), actor=None
    )
    not_before = leaf.certificate.not_valid_before_utc
    issued_at = leaf.not_after - timedelta(minutes=1)
    assert issued_at - not_before == timedelta(minutes=5)

    set_sandbox_now(scenario, not_before + timedelta(seconds=1))
    assert create_session_with(scenario, leaf).access_key_id

    set_sandbox_now(scenario, not_before - timedelta(seconds=1))
    with pytest.raises(awsra.AwsError) as refused:
        create_session_with(scenario, leaf)
    assert "not valid before" in refused.value.message


# -- the CA's own expiry ---------------------------------------------------------------------


def _active_ca_not_after() -> datetime:
    certificate_issue(subject_cn="warm-up", purpose="clock-test", actor=None)  # ensures a CA
    authority = CertificateAuthority.objects.get(state=CertificateAuthority.State.ACTIVE)
    return authority.not_after


def test_a_leaf_never_outlives_the_ca(db: Any) -> None:
    ca_not_after = _active_ca_not_after()
    with time_machine.travel(ca_not_after - timedelta(seconds=30), tick=False):
        leaf = certificate_issue(
            subject_cn="alice", purpose="clock-test", ttl=timedelta(minutes=1), actor=None
        )
    # Truncated to the CA's end, never past it, and not already expired (vault#30621).
    assert leaf.certificate.not_valid_after_utc == ca_not_after
    assert leaf.certificate.not_valid_after_utc > ca_not_after - timedelta(seconds=30)


def test_an_expired_ca_refuses_issuance_with_a_clear_message(
    launch_scenario: LaunchScenario,
) -> None:
    scenario = launch_scenario
    ca_not_after = _active_ca_not_after()
    with time_machine.travel(ca_not_after + timedelta(seconds=1), tick=False):
        response = api_credentials(api_client(scenario.alice), scenario)
        page = launch(web_client(scenario.alice), scenario)
    assert response.status_code == 422, response.content[:500]
    assert "certificate authority cannot sign" in response.json()["detail"]
    # The same IssuanceError, so the same status as the API (issue 19; it was 502 here).
    assert page.status_code == 422
    assert "certificate authority cannot sign" in page.content.decode()
    assert "rotate_ca" in page.content.decode()
    refusals = AuditEvent.objects.filter(event_type=ISSUED, outcome=AuditEvent.Outcome.ERROR)
    assert refusals.count() == 2
    assert all("expired" in event.details["reason"] for event in refusals)
    assert not AuditEvent.objects.filter(event_type=ISSUED, outcome=AuditEvent.Outcome.SUCCESS)


# -- access-request grants at their end ------------------------------------------------------


@pytest.fixture
def granted(launch_scenario: LaunchScenario, make_user: Any) -> tuple[LaunchScenario, datetime]:
    """Bob, who holds no access role, is granted the guide's role for 30 minutes."""
    role_create(actor=None, name="requester", spec={"allow": {"request": {"roles": ["example-*"]}}})
    role_create(
        actor=None,
        name="guide-approver",
        spec={"allow": {"review_requests": {"roles": ["example-*"]}}},
    )
    scenario = launch_scenario
    scenario.bob.roles = ["requester"]
    scenario.bob.save(update_fields=["roles"])
    carol = make_user("carol", roles=["guide-approver"])
    created = requests_services.access_request_create(
        actor=scenario.bob, roles=[ACCESS_ROLE], duration="30m"
    )
    requests_services.access_request_review(actor=carol, request_id=created.pk, decision="approve")
    grant = created.grants.get()
    return scenario, grant.ends_at


def test_grant_issues_credentials_until_its_end_and_not_at_it(
    granted: tuple[LaunchScenario, datetime],
) -> None:
    scenario, ends_at = granted
    api = api_client(scenario.bob)
    web = web_client(scenario.bob)
    # The sandbox shares the travelled clock, so CreateSession runs at the same moments.
    with time_machine.travel(ends_at - timedelta(minutes=16), tick=False):
        issued = api_credentials(api, scenario)
        assert issued.status_code == 200, issued.content[:300]
        assert launch(web, scenario).status_code == 302
    # Less than AWS's 15-minute minimum left and no kill switch on this integration: refused
    # (issue 18), since credentials must not outlive the grant.
    with time_machine.travel(ends_at - timedelta(seconds=1), tick=False):
        short = api_credentials(api, scenario)
        assert short.status_code == 403, short.content[:300]
        assert "15-minute minimum" in short.json()["detail"]
        assert launch(web, scenario).status_code == 403
    for moment in (ends_at, ends_at + timedelta(seconds=1)):
        with time_machine.travel(moment, tick=False):
            refused = api_credentials(api, scenario)
            assert refused.status_code == 404, (moment, refused.content[:300])
            # The same refusal, so the same status on the web (issue 19).
            assert launch(web, scenario).status_code == 404
    outcomes = list(
        AuditEvent.objects.filter(event_type=ISSUED, actor_name="bob")
        .order_by("id")
        .values_list("outcome", flat=True)
    )
    assert outcomes == ["success", "success", *["denied"] * 6]


def test_the_issuance_function_itself_refuses_at_the_grant_end(
    granted: tuple[LaunchScenario, datetime],
) -> None:
    scenario, ends_at = granted
    with (
        time_machine.travel(ends_at, tick=False),
        pytest.raises((AccessDenied, AppNotFound)) as refused,
    ):
        aws_credentials_issue(
            actor=scenario.bob,
            app_name=scenario.app.name,
            role_arn=scenario.role_arn,
            purpose="cli",
        )
    assert "not allowed to use it" in str(refused.value)


# -- the sandbox clock skewed ----------------------------------------------------------------


@pytest.mark.parametrize("minutes", [4, -4])
def test_aws_clock_four_minutes_off_is_accepted(
    launch_scenario: LaunchScenario, minutes: int
) -> None:
    scenario = launch_scenario
    scenario.sandbox.clock_offset = timedelta(minutes=minutes)
    response = api_credentials(api_client(scenario.alice), scenario)
    assert response.status_code == 200, response.content[:500]
    page = launch(web_client(scenario.alice), scenario)
    assert page.status_code == 302
    assert page["Location"].startswith(scenario.sandbox.url)


@pytest.mark.parametrize("minutes", [6, -6])
def test_aws_clock_six_minutes_off_is_refused_with_a_clock_hint(
    launch_scenario: LaunchScenario, minutes: int
) -> None:
    scenario = launch_scenario
    scenario.sandbox.clock_offset = timedelta(minutes=minutes)
    response = api_credentials(api_client(scenario.alice), scenario)
    assert response.status_code == 502, response.content[:500]
    detail = response.json()["detail"]
    # The request time is whole seconds, so the skew AWS reports is 359 or 360 s.
    skew = re.search(r"is (\d+)s away from server time", detail)
    assert skew is not None, detail
    assert abs(minutes) * 60 - 2 <= int(skew.group(1)) <= abs(minutes) * 60, detail
    assert "clock" in detail.lower(), detail

    page = launch(web_client(scenario.alice), scenario)
    assert page.status_code == 502
    text = page.content.decode()
    assert "away from server time" in text
    assert "clock" in text.lower()
    errors = AuditEvent.objects.filter(event_type=ISSUED, outcome=AuditEvent.Outcome.ERROR)
    assert errors.count() == 2
    assert all(e.details["aws_error_code"] == "AccessDeniedException" for e in errors)
