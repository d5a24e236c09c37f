"""A granted role works at once for Launch and the API (no new login), and stops at its end.

Built on the guide's scenario (tests/resources/conftest.py): bob holds no access role, may
request `example-read-only-access`, and carol may review such requests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from apps.access.requests import services
from apps.access.services import role_create
from tests.resources.conftest import ACCESS_ROLE, LaunchScenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(launch_scenario: LaunchScenario, make_user: Any) -> tuple[LaunchScenario, Any]:
    role_create(actor=None, name="requester", spec={"allow": {"request": {"roles": ["example-*"]}}})
    role_create(
        actor=None,
        name="guide-approver",
        spec={"allow": {"review_requests": {"roles": ["example-*"]}}},
    )
    bob = launch_scenario.bob
    bob.roles = ["requester"]
    bob.save(update_fields=["roles"])
    carol = make_user("carol", roles=["guide-approver"])
    return launch_scenario, carol


def test_granted_role_works_for_launch_and_api_at_once(
    setup: tuple[LaunchScenario, Any], token_for: Any
) -> None:
    scenario, carol = setup
    app = scenario.app.name
    web = Client()
    web.force_login(scenario.bob)
    api = token_for(scenario.bob)

    # Before: the launch dialog refuses, but offers the role that would grant the app.
    refused = web.get(f"/apps/{app}/launch")
    assert refused.status_code == 404  # the API's status for the same refusal (issue 19)
    text = refused.content.decode()
    assert "Request access" in text and ACCESS_ROLE in text
    assert f"/requests/new/?roles={ACCESS_ROLE}&amp;app={app}" in text
    # ...and the request form it links to comes pre-filled.
    form = web.get(f"/requests/new/?roles={ACCESS_ROLE}&app={app}").content.decode()
    assert f'value="{ACCESS_ROLE}"' in form and "checked" in form
    assert api.get("/apps").json()["items"] == []
    no_creds = api.post(f"/apps/{app}/credentials", {"role_arn": scenario.role_arn})
    assert no_creds.status_code == refused.status_code == 404
    # A user who may request nothing sees the plain refusal, as for a missing app.
    alice_only = Client()
    alice_only.force_login(scenario.alice)
    assert "Request access" not in alice_only.get("/apps/no-such-app/launch").content.decode()

    created = api.post("/requests", {"roles": [ACCESS_ROLE], "reason": "guide step 4"}).json()
    approved = token_for(carol).post(f"/requests/{created['id']}/reviews", {"decision": "approve"})
    assert approved.json()["state"] == "approved"

    # Same web session, same token: the granted role applies to the very next decision.
    (listed,) = api.get("/apps").json()["items"]
    assert listed["name"] == app and listed["aws_role_arns"] == [scenario.role_arn]
    credentials = api.post(f"/apps/{app}/credentials", {"role_arn": scenario.role_arn})
    assert credentials.status_code == 200, credentials.content
    launched = web.post(f"/apps/{app}/launch", {"role": scenario.role_arn})
    assert launched.status_code == 302
    assert launched["Location"].startswith(f"{scenario.sandbox.url}/federation?")

    # Ending the grant early takes effect at once too.
    services.access_request_end(actor=scenario.bob, request_id=created["id"])
    assert api.get("/apps").json()["items"] == []
    assert web.post(f"/apps/{app}/launch", {"role": scenario.role_arn}).status_code == 404


def test_the_grant_stops_at_its_end_without_the_beat_task(
    setup: tuple[LaunchScenario, Any], token_for: Any
) -> None:
    scenario, carol = setup
    api = token_for(scenario.bob)
    created = services.access_request_create(
        actor=scenario.bob, roles=[ACCESS_ROLE], duration="30m"
    )
    services.access_request_review(actor=carol, request_id=created.pk, decision="approve")
    assert len(api.get("/apps").json()["items"]) == 1
    end = timezone.now() + timedelta(minutes=30)
    with time_machine.travel(end - timedelta(seconds=1), tick=False):
        assert len(api.get("/apps").json()["items"]) == 1
    with time_machine.travel(end + timedelta(seconds=1), tick=False):
        assert api.get("/apps").json()["items"] == []
