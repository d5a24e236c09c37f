"""Console launch against the sandbox, over HTTP: from a POST to the sandbox console page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
from django.db import connection
from django.test import Client

from apps.audit.models import AuditEvent
from apps.resources.errors import AuditUnavailable
from apps.resources.services import aws_credentials_issue
from tests.resources.conftest import ACCESS_ROLE, LaunchScenario

pytestmark = pytest.mark.django_db

ISSUED = "aws_credentials.issued"


def _launch_url(app: Any) -> str:
    return f"/apps/{app.name}/launch"


def _client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _follow_to_sandbox(location: str) -> str:
    """Open the federation login URL with a real HTTP client, as the browser would."""
    response = urllib3.request("GET", location, redirect=False, timeout=10)
    assert response.status == 200, response.data[:300]
    return str(response.data.decode())


def _issued_events(outcome: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(event_type=ISSUED)
    if outcome:
        events = events.filter(outcome=outcome)
    return list(events.order_by("id"))


def _subject_count(scenario: LaunchScenario) -> int:
    # Every successful CreateSession records a subject in the emulator.
    return len(scenario.sandbox.state.subjects)


def test_launch_ends_on_the_console_as_the_user(launch_scenario: LaunchScenario) -> None:
    scenario = launch_scenario
    client = _client_for(scenario.alice)
    response = client.post(
        _launch_url(scenario.app), {"role": scenario.role_arn}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{scenario.sandbox.url}/federation?")
    assert "no-store" in response["Cache-Control"]
    query = parse_qs(urlsplit(location).query)
    assert query["Action"] == ["login"]
    assert query["Issuer"] == ["https://rolegate.example.test"]
    assert query["Destination"] == [
        "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1"
    ]

    page = _follow_to_sandbox(location)
    assert "assumed-role/ExampleReadOnlyAccess/alice" in page
    assert scenario.console_arn("alice") in page

    [event] = _issued_events("success")
    assert event.actor_name == "alice"
    assert event.target_name == scenario.app.name
    assert event.client_ip == "203.0.113.7"
    details = event.details
    assert details["role_arn"] == scenario.role_arn
    assert details["purpose"] == "console"
    assert details["role_session_name"] == "alice"
    assert details["role_session_name_sent"] is True
    assert details["duration_seconds"] == 3600
    assert details["region"] == "us-east-1"
    assert details["console_region"] == "us-east-1"
    assert details["profile_arn"] == scenario.profile_arn
    assert len(details["certificate_serial"]) >= 16
    assert "secret" not in str(details).lower()


def test_launch_with_region_and_console_path(launch_scenario: LaunchScenario) -> None:
    client = _client_for(launch_scenario.alice)
    response = client.post(
        _launch_url(launch_scenario.app),
        {"role": "ExampleReadOnlyAccess", "region": "eu-west-1", "destination": "/s3/home"},
    )
    assert response.status_code == 302
    destination = parse_qs(urlsplit(response["Location"]).query)["Destination"][0]
    assert destination == "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
    page = _follow_to_sandbox(response["Location"])
    assert "eu-west-1.console.aws.amazon.com/s3/home" in page


def test_htmx_launch_answers_with_hx_redirect(launch_scenario: LaunchScenario) -> None:
    client = _client_for(launch_scenario.alice)
    response = client.post(
        _launch_url(launch_scenario.app),
        {"role": launch_scenario.role_arn},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(f"{launch_scenario.sandbox.url}/federation?")
    assert "alice" in _follow_to_sandbox(response["HX-Redirect"])


def test_profile_without_session_names_uses_the_certificate_serial(
    launch_scenario: LaunchScenario,
) -> None:
    app = launch_scenario.add_profile("NoSessionNames", accept_role_session_name=False)
    assert app.accept_role_session_name is False
    client = _client_for(launch_scenario.alice)
    response = client.post(_launch_url(app), {"role": launch_scenario.role_arn})
    assert response.status_code == 302
    [event] = _issued_events("success")
    serial = event.details["certificate_serial"]
    assert event.details["role_session_name_sent"] is False
    assert event.details["role_session_name"] == serial
    page = _follow_to_sandbox(response["Location"])
    # AWS names the session after the certificate serial in hex; its case and zero padding are
    # undocumented, so compare without either.
    shown = re.search(r"assumed-role/ExampleReadOnlyAccess/([0-9A-Fa-f]+)<", page)
    assert shown is not None, page
    assert shown.group(1).lower().lstrip("0") == serial.lower().lstrip("0")
    assert "/alice" not in page


def test_role_not_allowed_is_403_and_audited(launch_scenario: LaunchScenario) -> None:
    scenario = launch_scenario
    admin_arn = scenario.create_role("ExampleAdmin")
    app = scenario.add_profile("Mixed", roles=[scenario.role_arn, admin_arn])
    before = _subject_count(scenario)
    client = _client_for(scenario.alice)

    response = client.post(_launch_url(app), {"role": admin_arn})

    assert response.status_code == 403
    assert "not allowed to assume" in response.content.decode()
    assert "Location" not in response
    [event] = _issued_events("denied")
    assert event.actor_name == "alice"
    assert event.details["role_arn"] == admin_arn
    assert event.details["app"] == app.name
    assert _subject_count(scenario) == before
    assert not _issued_events("success")


@pytest.mark.parametrize(
    "tampered",
    [
        "arn:aws:iam::999999999999:role/ExampleReadOnlyAccess",  # another account
        "arn:aws:iam::123456789012:role/*",  # a wildcard
        "arn:aws:iam::123456789012:role/ExampleReadOnlyAccess2",
        "arn:aws:iam::123456789012:role/examplereadonlyaccess",  # IAM names are case-sensitive
        "arn:aws:iam::123456789012:role/ExampleReadOnly\nAccess",
        "arn:aws:iam::" + "\uff11" * 12 + ":role/ExampleReadOnlyAccess",  # fullwidth digits
        "not-an-arn",
    ],
)
def test_tampered_role_arn_is_403(launch_scenario: LaunchScenario, tampered: str) -> None:
    client = _client_for(launch_scenario.alice)
    response = client.post(_launch_url(launch_scenario.app), {"role": tampered})
    assert response.status_code == 403
    assert "Location" not in response
    assert _issued_events("denied")
    assert not _issued_events("success")


def test_user_without_access_gets_the_same_words_as_for_a_missing_app(
    launch_scenario: LaunchScenario,
) -> None:
    client = _client_for(launch_scenario.bob)
    hidden = client.post(_launch_url(launch_scenario.app), {"role": launch_scenario.role_arn})
    missing = client.post("/apps/no-such-app/launch", {"role": launch_scenario.role_arn})
    # The API answers 404 app_not_found for both; the web gives the same status.
    assert hidden.status_code == missing.status_code == 404
    assert "was not found, or you are not allowed to use it" in hidden.content.decode()
    assert "was not found, or you are not allowed to use it" in missing.content.decode()
    # Region and destination are not judged for an app the user cannot see.
    probe = client.post(
        _launch_url(launch_scenario.app),
        {"role": launch_scenario.role_arn, "region": "nowhere", "destination": "//evil"},
    )
    assert probe.status_code == 404
    denied = _issued_events("denied")
    assert len(denied) == 3
    assert {e.details.get("reason") for e in denied} == {
        "no role of the user allows this app",
        "no such app",
    }


def test_aws_refusal_is_shown_in_plain_words(launch_scenario: LaunchScenario) -> None:
    from apps.access.services import role_create

    scenario = launch_scenario
    untrusting = scenario.create_role("NotForRolesAnywhere", with_console_trust=False)
    app = scenario.add_profile("Broken", roles=[untrusting])
    role_create(
        actor=None,
        name="broken-access",
        spec={"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [untrusting]}},
    )
    scenario.alice.roles = [ACCESS_ROLE, "broken-access"]
    scenario.alice.save(update_fields=["roles"])

    response = _client_for(scenario.alice).post(_launch_url(app), {"role": untrusting})

    assert response.status_code == 502
    body = response.content.decode()
    assert "AWS refused the request (AccessDeniedException)" in body
    assert "trust policy" in body
    [event] = _issued_events("error")
    assert event.details["aws_error_code"] == "AccessDeniedException"
    assert event.details["aws_error"]
    assert not _issued_events("success")


def test_signin_endpoint_failure_is_a_clear_503(launch_scenario: LaunchScenario) -> None:
    launch_scenario.sandbox.faults.fail("GetSigninToken", status=500, count=10)
    response = _client_for(launch_scenario.alice).post(
        _launch_url(launch_scenario.app), {"role": launch_scenario.role_arn}
    )
    assert response.status_code == 503
    assert "console sign-in endpoint" in response.content.decode()
    assert AuditEvent.objects.filter(event_type="aws_console.signed_in", outcome="error").exists()


@pytest.mark.parametrize(
    "destination",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/s3/home\r\nLocation: https://evil.example",
        "evil.example",
        "/x://evil.example",
    ],
)
def test_destination_cannot_leave_the_console(
    launch_scenario: LaunchScenario, destination: str
) -> None:
    before = _subject_count(launch_scenario)
    client = _client_for(launch_scenario.alice)
    response = client.post(
        _launch_url(launch_scenario.app),
        {"role": launch_scenario.role_arn, "destination": destination},
    )
    assert response.status_code == 400
    assert "console path" in response.content.decode()
    # Refused before anything was issued, and the refusal is audited.
    assert _subject_count(launch_scenario) == before
    assert not _issued_events("success")
    [refusal] = _issued_events("denied")
    assert refusal.details["reason"].startswith("invalid launch input")


@pytest.mark.parametrize("destination", ["/%2F%2Fevil.example", "/ec2/home#Instances:"])
def test_accepted_destinations_stay_on_the_console_host(
    launch_scenario: LaunchScenario, destination: str
) -> None:
    response = _client_for(launch_scenario.alice).post(
        _launch_url(launch_scenario.app),
        {"role": launch_scenario.role_arn, "destination": destination},
    )
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == launch_scenario.sandbox.url
    target = urlsplit(parse_qs(location.query)["Destination"][0])
    assert target.scheme == "https"
    assert target.netloc == "us-east-1.console.aws.amazon.com"


def test_bad_region_is_a_400_without_issuing(launch_scenario: LaunchScenario) -> None:
    for region in ("mars-north-1x", "cn-north-1", "us-gov-west-1"):
        response = _client_for(launch_scenario.alice).post(
            _launch_url(launch_scenario.app), {"role": launch_scenario.role_arn, "region": region}
        )
        assert response.status_code == 400, region
        assert "Pick another region" in response.content.decode()
    assert not _issued_events("success")
    assert len(_issued_events("denied")) == 3


def _refuse_audit_events(event_type: str, outcome: str) -> None:
    """A database trigger that refuses one kind of audit event, as a failing database would."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION refuse_event() RETURNS trigger AS $$
            BEGIN
              IF NEW.event_type = '{event_type}' AND NEW.outcome = '{outcome}' THEN
                RAISE EXCEPTION 'audit storage unavailable';
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_event BEFORE INSERT ON audit_auditevent
              FOR EACH ROW EXECUTE FUNCTION refuse_event();
            """
        )


def test_fail_closed_when_the_audit_event_cannot_be_written(
    launch_scenario: LaunchScenario,
) -> None:
    """A database trigger refuses the intent row: no credentials, AWS never asked."""
    _refuse_audit_events("aws_credentials.requested", "pending")
    before = _subject_count(launch_scenario)

    with pytest.raises(AuditUnavailable):
        aws_credentials_issue(
            actor=launch_scenario.alice,
            app_name=launch_scenario.app.name,
            role_arn=launch_scenario.role_arn,
            purpose="cli",
        )
    response = _client_for(launch_scenario.alice).post(
        _launch_url(launch_scenario.app), {"role": launch_scenario.role_arn}
    )

    assert response.status_code == 503
    assert "audit log" in response.content.decode()
    assert "Location" not in response
    assert _subject_count(launch_scenario) == before
    assert not _issued_events("success")


def test_a_session_whose_success_cannot_be_recorded_keeps_its_intent_row(
    launch_scenario: LaunchScenario,
) -> None:
    """The success row is refused after AWS made the session: the credentials are dropped,
    the answer says so, and the committed intent (with the leaf serial) records the session."""
    _refuse_audit_events("aws_credentials.issued", "success")
    sessions_before = len(launch_scenario.sandbox.state.issued_sessions)

    response = _client_for(launch_scenario.alice).post(
        _launch_url(launch_scenario.app), {"role": launch_scenario.role_arn}
    )

    assert response.status_code == 503
    assert "AWS issued the credentials" in response.content.decode()
    assert "Location" not in response
    made = launch_scenario.sandbox.state.issued_sessions[sessions_before:]
    assert len(made) == 1
    intents = AuditEvent.objects.filter(event_type="aws_credentials.requested", outcome="pending")
    assert [int(event.details["certificate_serial"], 16) for event in intents] == [
        int(made[0]["serial"], 16)
    ]
    assert not _issued_events("success")


def test_csrf_is_required(launch_scenario: LaunchScenario) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(launch_scenario.alice)
    response = client.post(_launch_url(launch_scenario.app), {"role": launch_scenario.role_arn})
    assert response.status_code == 403
    assert not _issued_events()


def test_get_never_issues(launch_scenario: LaunchScenario) -> None:
    response = _client_for(launch_scenario.alice).get(
        _launch_url(launch_scenario.app), {"role": launch_scenario.role_arn}
    )
    assert response.status_code == 200
    assert not _issued_events()
