"""A slow AWS and a hung or refusing broker: answers come within their budgets, say honestly
what is known, and never multiply AWS sessions."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

from apps.audit.models import AuditEvent
from apps.integrations.services import integration_apply
from apps.integrations.spec import integration_spec_from_document
from apps.integrations.tasks import sync_integration
from apps.resources.errors import IssuanceError
from apps.resources.services import aws_credentials_issue
from tests.integrations.conftest import Account
from tests.reliability.workers import RedisServer
from tests.resources.conftest import LaunchScenario


@pytest.mark.django_db
def test_a_create_session_answer_later_than_the_budget_makes_one_session(
    launch_scenario: LaunchScenario, settings: Any
) -> None:
    """AWS makes the session but answers after the issuance budget: Rolegate gives up in
    time, never sends CreateSession again, and records an intent and an error that both say a
    session may exist (with the serial AWS shows)."""
    scenario = launch_scenario
    settings.ROLEGATE_ISSUANCE_TIMEOUT = 1.0
    before = len(scenario.sandbox.state.issued_sessions)
    scenario.sandbox.faults.slow_answer("CreateSession", seconds=4, count=10)

    started = time.monotonic()
    with pytest.raises(IssuanceError) as caught:
        aws_credentials_issue(
            actor=scenario.alice,
            app_name=scenario.app.name,
            role_arn=scenario.role_arn,
            purpose="cli",
        )
    elapsed = time.monotonic() - started

    assert elapsed < 3, elapsed
    assert "may have created a session" in caught.value.message
    made = scenario.sandbox.state.issued_sessions[before:]
    assert len(made) == 1, made
    intent = AuditEvent.objects.get(event_type="aws_credentials.requested")
    assert intent.outcome == AuditEvent.Outcome.PENDING
    assert int(intent.details["certificate_serial"], 16) == int(made[0]["serial"], 16)
    error = AuditEvent.objects.get(event_type="aws_credentials.issued")
    assert error.outcome == AuditEvent.Outcome.ERROR
    assert error.details["intent_id"] == intent.pk
    assert error.details["session_may_exist"] is True


@pytest.fixture
def private_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A private redis-server as the broker "Sync now" publishes to."""
    server = RedisServer(tmp_path)
    server.start()
    monkeypatch.setattr(sync_integration.app.conf, "broker_url", server.url)
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


def _sync_now(account: Account, staff_user: Any) -> tuple[int, str, float]:
    document = yaml.safe_load(account.integration_yaml())
    integration_apply(actor=None, spec=integration_spec_from_document(document), request_sync=False)
    client = Client()
    client.force_login(staff_user)
    started = time.monotonic()
    response = client.post("/manage/integrations/aws-prod/sync/", follow=True)
    return response.status_code, response.content.decode(), time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_sync_now_with_a_frozen_broker_answers_within_its_timeout(
    account: Account, staff_user: Any, private_redis: RedisServer, settings: Any
) -> None:
    settings.ROLEGATE_BROKER_TIMEOUT = 1.0
    assert private_redis.process is not None
    os.kill(private_redis.process.pid, signal.SIGSTOP)  # accepts connections, never answers

    status, page, elapsed = _sync_now(account, staff_user)

    assert status == 200
    assert elapsed < 8, elapsed
    assert "could not be queued" in page
    assert "is queued" not in page
    assert AuditEvent.objects.filter(event_type="integration.sync_requested").count() == 1


@pytest.mark.django_db(transaction=True)
def test_sync_now_with_a_refusing_broker_says_nothing_was_queued(
    account: Account, staff_user: Any, private_redis: RedisServer, settings: Any
) -> None:
    settings.ROLEGATE_BROKER_TIMEOUT = 1.0
    private_redis.stop()  # connection refused

    status, page, elapsed = _sync_now(account, staff_user)

    assert status == 200
    assert elapsed < 8, elapsed
    assert "could not be queued" in page
    assert "is queued" not in page


@pytest.mark.django_db(transaction=True)
def test_sync_now_with_a_live_broker_is_queued(
    account: Account, staff_user: Any, private_redis: RedisServer
) -> None:
    import redis

    status, page, _ = _sync_now(account, staff_user)

    assert status == 200
    assert "is queued" in page
    # The task really is in the broker's queue.
    assert redis.Redis.from_url(private_redis.url).llen("celery") == 1
