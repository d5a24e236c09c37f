"""GET /apps and POST /apps/{name}/credentials against the sandbox (the guide's scenario)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from apps.audit.models import AuditEvent
from tests.api.conftest import ApiClient, LaunchScenario

pytestmark = pytest.mark.django_db

ISSUED = "aws_credentials.issued"


def _credentials(client: ApiClient, app: str, role_arn: str, **extra: Any) -> Any:
    return client.post(f"/apps/{app}/credentials", {"role_arn": role_arn, **extra})


def test_apps_lists_the_users_apps_with_allowed_roles(
    launch_scenario: LaunchScenario, token_for: Any
) -> None:
    scenario = launch_scenario
    response = token_for(scenario.alice).get("/apps")
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    (app,) = body["items"]
    assert app["name"] == scenario.app.name
    assert app["aws_role_arns"] == [scenario.role_arn]
    assert app["integration"] == "aws-prod"
    assert app["account_id"] == scenario.role_arn.split(":")[4]
    assert app["labels"]["rolegate.dev/integration"] == "aws-prod"
    assert token_for(scenario.bob).get("/apps").json() == {"items": [], "next_cursor": None}
    assert ApiClient().get("/apps").status_code == 401


def test_credentials_work_against_aws_as_the_user(
    launch_scenario: LaunchScenario, token_for: Any
) -> None:
    scenario = launch_scenario
    response = _credentials(token_for(scenario.alice), scenario.app.name, scenario.role_arn)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["Version"] == 1 and body["Expiration"].endswith("Z")
    sts = boto3.client(
        "sts",
        endpoint_url=scenario.sandbox.url,
        region_name="us-east-1",
        aws_access_key_id=body["AccessKeyId"],
        aws_secret_access_key=body["SecretAccessKey"],
        aws_session_token=body["SessionToken"],
    )
    identity = sts.get_caller_identity()
    assert identity["Arn"] == scenario.console_arn("alice")
    event = AuditEvent.objects.get(event_type=ISSUED, outcome="success")
    assert event.actor_name == "alice" and event.details["purpose"] == "cli"
    assert body["SecretAccessKey"] not in str(event.details)


def test_duration_is_passed_through(launch_scenario: LaunchScenario, token_for: Any) -> None:
    scenario = launch_scenario
    client = token_for(scenario.alice)
    response = _credentials(client, scenario.app.name, scenario.role_arn, duration_seconds=900)
    assert response.status_code == 200
    assert AuditEvent.objects.get(event_type=ISSUED).details["duration_seconds"] == 900


def test_refusals_are_clear_and_audited(launch_scenario: LaunchScenario, token_for: Any) -> None:
    scenario = launch_scenario
    alice = token_for(scenario.alice)
    other_role = scenario.role_arn.replace("ExampleReadOnlyAccess", "Admin")

    not_allowed = _credentials(alice, scenario.app.name, other_role)
    assert not_allowed.status_code == 403
    assert not_allowed.json()["code"] == "access_denied"
    assert "not allowed to assume" in not_allowed.json()["detail"]

    unknown = _credentials(alice, "no-such-app", scenario.role_arn)
    assert unknown.status_code == 404 and unknown.json()["code"] == "app_not_found"

    # bob may not use the app: he gets the same words as for an app that does not exist.
    bob = _credentials(token_for(scenario.bob), scenario.app.name, scenario.role_arn)
    assert bob.status_code == unknown.status_code == 404
    assert bob.json()["code"] == unknown.json()["code"]
    assert bob.json()["detail"] == unknown.json()["detail"].replace(
        "no-such-app", scenario.app.name
    )

    denied = AuditEvent.objects.filter(event_type=ISSUED, outcome="denied")
    assert denied.count() == 3
    assert not AuditEvent.objects.filter(event_type=ISSUED, outcome="success").exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "role_arn"),
        ({"role_arn": 5}, "role_arn"),
        ({"role_arn": "arn:aws:iam::123456789012:role/X", "duration_seconds": 10}, "duration"),
        ({"role_arn": "arn:aws:iam::123456789012:role/X", "duration_seconds": "x"}, "duration"),
    ],
)
def test_bad_credential_requests_are_422(
    launch_scenario: LaunchScenario, token_for: Any, body: dict[str, Any], fragment: str
) -> None:
    response = token_for(launch_scenario.alice).post(
        f"/apps/{launch_scenario.app.name}/credentials", body
    )
    assert response.status_code == 422
    assert fragment in response.json()["detail"]
    assert not AuditEvent.objects.filter(event_type=ISSUED).exists()


def test_aws_refusal_is_a_502_with_awss_words(
    launch_scenario: LaunchScenario, token_for: Any
) -> None:
    scenario = launch_scenario
    profile_id = scenario.profile_arn.rsplit("/", 1)[1]
    scenario.ra.disable_profile(profileId=profile_id)
    response = _credentials(token_for(scenario.alice), scenario.app.name, scenario.role_arn)
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "aws_error" and "AWS refused" in body["detail"]
    assert AuditEvent.objects.filter(event_type=ISSUED, outcome="error").exists()


def test_credentials_need_a_token(launch_scenario: LaunchScenario) -> None:
    response = _credentials(ApiClient(), launch_scenario.app.name, launch_scenario.role_arn)
    assert response.status_code == 401
    assert not AuditEvent.objects.filter(event_type=ISSUED).exists()


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        # AWS busy: retryable, 503 on both (the API said 502 before issue 19, the web 503).
        ({"operation": "CreateSession", "status": 503, "count": 10}, 503, "aws_unavailable"),
        # AWS refused (profile disabled): 502 on both.
        (None, 502, "aws_error"),
    ],
    ids=["aws-busy", "aws-refused"],
)
def test_the_same_aws_failure_has_the_same_status_on_the_web_and_the_api(
    launch_scenario: LaunchScenario,
    token_for: Any,
    fault: dict[str, Any] | None,
    status: int,
    code: str,
) -> None:
    from django.test import Client

    scenario = launch_scenario
    if fault is None:
        scenario.ra.disable_profile(profileId=scenario.profile_arn.rsplit("/", 1)[1])
    else:
        scenario.sandbox.faults.fail(
            fault["operation"], status=fault["status"], count=fault["count"]
        )
    api = _credentials(token_for(scenario.alice), scenario.app.name, scenario.role_arn)
    web = Client()
    web.force_login(scenario.alice)
    page = web.post(f"/apps/{scenario.app.name}/launch", {"role": scenario.role_arn})
    assert (api.status_code, api.json()["code"]) == (status, code), api.content[:300]
    assert page.status_code == status
    assert not AuditEvent.objects.filter(event_type=ISSUED, outcome="success").exists()
