"""Rate limits: 429 with Retry-After, audited, counted across processes; beat purges logins."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from apps.api.models import ApiToken, DeviceAuthorization
from apps.audit import events
from apps.audit.models import AuditEvent
from tests.api.conftest import ApiClient, LaunchScenario


def _retry_after(response: Any) -> int:
    value = int(response["Retry-After"])
    assert 1 <= value <= 60
    return value


@pytest.mark.django_db
def test_issuance_is_limited_per_user_and_refusals_are_audited(
    launch_scenario: LaunchScenario,
    settings: Any,
) -> None:
    """Today one user could issue 40 credentials in 1.5 s; now the limit holds, then resets."""
    from apps.api.services import token_create

    settings.ROLEGATE_ISSUANCE_RATE_LIMIT = 3
    scenario = launch_scenario
    start = timezone.now().replace(second=1, microsecond=0) + timedelta(minutes=1)
    token = token_create(actor=scenario.alice, user=scenario.alice, method="password").plaintext
    client = ApiClient(token)
    body = {"role_arn": scenario.role_arn}
    with time_machine.travel(start, tick=False):
        statuses = [
            client.post(f"/apps/{scenario.app.name}/credentials", body).status_code
            for _ in range(3)
        ]
        refused = client.post(f"/apps/{scenario.app.name}/credentials", body)
        # The console shares the budget: Launch is refused too.
        browser = Client()
        browser.force_login(scenario.alice)
        launch = browser.post(f"/apps/{scenario.app.name}/launch", {"role": scenario.role_arn})
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert _retry_after(refused) == 59
    assert launch.status_code == 429 and _retry_after(launch) == 59
    denied = AuditEvent.objects.filter(
        event_type__in=events.stored_names(events.AWS_CREDENTIALS_ISSUED),
        outcome="denied",
        details__reason="rate limited",
    )
    assert denied.count() == 2
    assert {event.target_name for event in denied} == {scenario.app.name}
    # The next minute has a fresh budget.
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        again = client.post(f"/apps/{scenario.app.name}/credentials", body)
    assert again.status_code == 200, again.content


@pytest.mark.django_db
def test_wrong_passwords_answer_429_with_retry_after(make_user: Any) -> None:
    make_user("bob")
    for _ in range(5):
        Client().post("/accounts/login/", {"username": "bob", "password": "wrong"})
    web = Client().post("/accounts/login/", {"username": "bob", "password": "wrong"})
    api = Client().post(
        "/api/v1/auth/password",
        {"username": "bob", "password": "wrong"},
        content_type="application/json",
    )
    assert (web.status_code, api.status_code) == (429, 429)
    assert int(web["Retry-After"]) == int(api["Retry-After"]) == 15 * 60
    assert api.json()["code"] == "throttled"


_HAMMER = """
import json, sys, urllib.request, urllib.error
url, count = sys.argv[1], int(sys.argv[2])
results = []
for _ in range(count):
    request = urllib.request.Request(url, data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            results.append([response.status, None])
    except urllib.error.HTTPError as error:
        results.append([error.code, error.headers.get("Retry-After")])
print(json.dumps(results))
"""


@pytest.mark.django_db(transaction=True)
def test_device_login_starts_are_limited_across_processes(live_server: Any, settings: Any) -> None:
    """Four processes start 8 device logins each at once: exactly the limit gets through."""
    settings.ROLEGATE_DEVICE_LOGIN_RATE_LIMIT = 10
    url = f"{live_server.url}/api/v1/auth/device"
    # Far from a minute boundary, so all 32 requests land in one window.
    with time_machine.travel(timezone.now().replace(second=5), tick=True):
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _HAMMER, url, "8"], stdout=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        results = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    statuses = [status for result in results for status, _ in result]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 22
    assert all(retry and 1 <= int(retry) <= 60 for r in results for s, retry in r if s == 429)
    assert DeviceAuthorization.objects.count() == 10
    refusals = AuditEvent.objects.filter(event_type=events.CLI_DEVICE_STARTED, outcome="denied")
    # Audited once per address and minute, not 22 times.
    assert [(e.target_kind, e.target_name) for e in refusals] == [("client_address", "127.0.0.1")]


@pytest.mark.django_db
def test_beat_purges_expired_device_logins_and_ended_tokens(make_user: Any) -> None:
    from apps.api.services import device_authorization_start, token_create, token_revoke
    from apps.api.tasks import purge_expired_cli_logins
    from portal.celery import beat_schedule

    alice = make_user("alice")
    long_ago = timezone.now() - timedelta(days=3)
    with time_machine.travel(long_ago, tick=False):
        device_authorization_start(client_name="old")
        old = token_create(actor=alice, user=alice, method="password").token
        revoked = token_create(actor=alice, user=alice, method="password").token
        token_revoke(actor=alice, token=revoked)
    ApiToken.objects.filter(pk=old.pk).update(expires_at=long_ago)
    fresh_device = device_authorization_start(client_name="new").authorization
    live = token_create(actor=alice, user=alice, method="password").token
    assert "purge-expired-cli-logins" in beat_schedule(300)
    assert purge_expired_cli_logins.apply().get() == 3
    assert list(DeviceAuthorization.objects.values_list("pk", flat=True)) == [fresh_device.pk]
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [live.pk]
    summary = AuditEvent.objects.get(event_type=events.API_TOKENS_PURGED)
    assert (summary.details["tokens"], summary.details["device_logins"]) == (2, 1)
    assert purge_expired_cli_logins.apply().get() == 0
