"""Worker faults with real processes: a Celery worker on Redis killed by PID mid-sync (main
process and pool child), a sync that outlives the broker's visibility timeout, and Redis down.

The sync is slowed with the sandbox's latency fault (every ListTagsForResource waits), so a kill
lands inside the listing phase; the sync writes in one transaction at its end, so whatever the
kill point, the apps are either the old set or the new set.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from django.test import Client
from kombu import Connection

from apps.api.services import token_create
from apps.audit.models import AuditEvent
from apps.integrations.models import SyncRun
from apps.integrations.services import (
    integration_apply,
    integration_sync,
    integration_sync_request,
)
from apps.integrations.spec import integration_spec_from_document
from apps.integrations.tasks import sync_all_integrations, sync_integration
from apps.resources.models import AwsApp
from tests.integrations.conftest import Account
from tests.reliability.workers import RedisServer, Worker, kill_pids, wait_for, wait_gone
from tests.resources.conftest import LaunchScenario

pytestmark = [pytest.mark.xdist_group("celery"), pytest.mark.django_db(transaction=True)]

TAG_LATENCY = 0.5


def via(conn: Connection) -> dict[str, Any]:
    """Send over this broker connection (the stubs do not know apply_async's `connection`)."""
    return {"connection": conn}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A private redis-server as the broker: no message another test (or another xdist
    process: `xdist_group` does not group here) can see, deliver or leave behind."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def apps_state() -> dict[str, tuple[str, ...]]:
    """What users see of the synced apps: name -> sorted role ARNs and labels."""
    return {
        app.name: (*sorted(app.role_arns), *sorted(f"{k}={v}" for k, v in app.labels.items()))
        for app in AwsApp.objects.all()
    }


def create(account: Account, name: str = "aws-prod", filters: list[str] | None = None) -> int:
    document = yaml.safe_load(account.integration_yaml(name, filters=filters or ["App-*"]))
    integration = integration_apply(
        actor=None, spec=integration_spec_from_document(document), request_sync=False
    )
    return int(integration.pk)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Worker]]:
    """Workers the test started; stopped (and orphans killed) at the end."""
    workers: list[Worker] = []
    yield workers
    for worker in workers:
        orphans = worker.children()
        worker.stop()
        kill_pids(orphans)


@pytest.fixture
def changed_account(account: Account) -> tuple[Account, int, dict[str, Any]]:
    """Four apps synced, then four more profiles and a retag in AWS: the sync has work to do.

    Returns (account, integration id, the apps as they were before the changes)."""
    for index in range(4):
        account.add_profile(f"App-{index}", tags={"team": "blue"})
    integration_id = create(account)
    assert integration_sync(name="aws-prod").status == "SUCCESS"
    before = apps_state()
    for index in range(4, 8):
        account.add_profile(f"App-{index}", tags={"team": "green"})
    account.tag("App-0", {"team": "red"})
    return account, integration_id, before


def assert_fully_applied(state: dict[str, tuple[str, ...]]) -> None:
    """The state a complete sync of `changed_account` gives: eight apps, App-0 retagged."""
    assert len(state) == 8, sorted(state)
    red = [name for name, values in state.items() if "aws/team=red" in values]
    green = [name for name, values in state.items() if "aws/team=green" in values]
    assert len(red) == 1 and red[0].startswith("app-0"), state
    assert len(green) == 4, state


def running_run() -> SyncRun | None:
    return SyncRun.objects.filter(status=SyncRun.Status.RUNNING).first()


def kill_mid_sync(worker: Worker, integration_id: int, kill: Any) -> tuple[SyncRun, Any]:
    """Queue a sync, wait until it is inside the slow listing, then call `kill(worker)`."""
    with Connection(worker.broker_url) as conn:
        sync_integration.apply_async(args=(integration_id, "admin"), **via(conn))
    run = wait_for(running_run, 60, "a RUNNING sync run", worker)
    time.sleep(1.5)  # two or three slow ListTagsForResource calls in: mid-listing
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING, "the sync ended before the kill"
    return run, kill(worker)


def unacked_messages(url: str) -> int:
    """Messages delivered to a worker and not acknowledged (kombu's `unacked` hash)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.hlen("unacked"))
    finally:
        client.close()


def beat_tick(worker: Worker) -> None:
    """What Celery beat sends every interval: the fan-out task, through the broker."""
    with Connection(worker.broker_url) as conn:
        sync_all_integrations.apply_async(**via(conn))


def wait_for_success_after(run: SyncRun, worker: Worker, timeout: float = 90) -> SyncRun:
    """The first SUCCESS run that started after `run`."""
    return cast(
        SyncRun,
        wait_for(
            lambda: (
                SyncRun.objects.filter(status=SyncRun.Status.SUCCESS, pk__gt=run.pk)
                .order_by("pk")
                .first()
            ),
            timeout,
            "a successful sync after the kill",
            worker,
        ),
    )


def assert_no_overlapping_syncs() -> None:
    """Runs that were not skipped never overlap in time: one sync at a time per integration."""
    runs = list(SyncRun.objects.exclude(status=SyncRun.Status.SKIPPED).order_by("started_at", "pk"))
    for earlier, later in itertools.pairwise(runs):
        assert earlier.ended_at is not None, f"run {earlier.pk} never ended"
        assert earlier.ended_at <= later.started_at, (
            f"runs {earlier.pk} and {later.pk} overlapped",
            [(r.pk, r.status, r.started_at, r.ended_at) for r in runs],
        )


def assert_interrupted(run: SyncRun) -> None:
    """The killed run is not left RUNNING: the next sync closed it as an interrupted error."""
    run.refresh_from_db()
    assert run.status == SyncRun.Status.ERROR, (run.status, run.error_message)
    assert run.error_message.startswith("interrupted:"), run.error_message
    assert run.ended_at is not None
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()


def test_kill_main_process_mid_sync(
    changed_account: tuple[Account, int, dict[str, Any]],
    started: list[Worker],
    broker: str,
    tmp_path: Path,
) -> None:
    account, integration_id, before = changed_account
    account.sandbox.faults.latency(TAG_LATENCY, operation="ListTagsForResource")
    worker = Worker(broker, account.sandbox.url, tmp_path / "worker.log").start()
    started.append(worker)

    run, orphans = kill_mid_sync(worker, integration_id, Worker.kill_main)
    # The pool child notices its parent is gone and exits; its database session (and with it
    # the advisory lock) ends with it.
    assert wait_gone(orphans, timeout=30), f"pool children {orphans} outlived the main process"
    state = apps_state()
    assert state == before, "the killed sync changed apps"
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # nobody could record the kill
    # acks_late: the message was never acknowledged, so Redis keeps it for redelivery after
    # the visibility timeout (an hour); the next beat tick does not wait for that.
    assert unacked_messages(broker) == 1

    account.sandbox.faults.clear()
    restarted = Worker(broker, account.sandbox.url, tmp_path / "worker-2.log").start()
    started.append(restarted)
    beat_tick(restarted)
    success = wait_for_success_after(run, restarted)
    assert success.trigger == SyncRun.Trigger.SCHEDULE
    assert_interrupted(run)
    assert_fully_applied(apps_state())
    assert_no_overlapping_syncs()


def test_kill_pool_child_mid_sync(
    changed_account: tuple[Account, int, dict[str, Any]],
    started: list[Worker],
    broker: str,
    tmp_path: Path,
) -> None:
    account, integration_id, before = changed_account
    account.sandbox.faults.latency(TAG_LATENCY, operation="ListTagsForResource")
    worker = Worker(broker, account.sandbox.url, tmp_path / "worker.log").start()
    started.append(worker)

    run, killed = kill_mid_sync(worker, integration_id, Worker.kill_child)
    assert wait_gone([killed], timeout=10)
    # The replacement child needs the whole slow listing again: nothing is written yet.
    assert apps_state() == before, "the killed sync changed apps"

    # task_reject_on_worker_lost: the main process requeues the message instead of acking it,
    # so the same request runs again on the replacement child and completes.
    redelivered = wait_for_success_after(run, worker)
    assert redelivered.trigger == SyncRun.Trigger.ADMIN
    assert_interrupted(run)
    assert_fully_applied(apps_state())

    # The worker survived its child: the next beat tick runs normally (nothing left to change).
    account.sandbox.faults.clear()
    beat_tick(worker)
    scheduled = wait_for_success_after(redelivered, worker)
    assert scheduled.trigger == SyncRun.Trigger.SCHEDULE
    assert (scheduled.apps_created, scheduled.apps_updated, scheduled.apps_deleted) == (0, 0, 0)
    assert_fully_applied(apps_state())
    assert_no_overlapping_syncs()
    assert unacked_messages(broker) == 0


def test_sync_longer_than_visibility_timeout_never_runs_twice_at_once(
    changed_account: tuple[Account, int, dict[str, Any]],
    started: list[Worker],
    broker: str,
    tmp_path: Path,
) -> None:
    account, integration_id, before = changed_account
    # Eight profiles at 1 s per ListTagsForResource: about 8 s, four visibility timeouts.
    account.sandbox.faults.latency(1.0, operation="ListTagsForResource")
    worker = Worker(
        broker,
        account.sandbox.url,
        tmp_path / "worker.log",
        app="tests.reliability.short_visibility",
        concurrency=2,
        env={"RELIABILITY_VISIBILITY_TIMEOUT": "2"},
    ).start()
    started.append(worker)

    with Connection(worker.broker_url) as conn:
        sync_integration.apply_async(args=(integration_id, "admin"), **via(conn))
    success = cast(
        SyncRun,
        wait_for(
            lambda: (
                SyncRun.objects.filter(status=SyncRun.Status.SUCCESS, pk__gt=0)
                .exclude(trigger=SyncRun.Trigger.COMMAND)
                .first()
            ),
            90,
            "the slow sync to finish",
            worker,
        ),
    )
    # Let any copy Redis restored during the run be delivered and handled.
    time.sleep(5)
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()

    skipped = list(SyncRun.objects.filter(status=SyncRun.Status.SKIPPED))
    assert skipped, f"Redis never redelivered the message, so nothing was tested:\n{worker.tail()}"
    assert success.ended_at is not None
    during = [r for r in skipped if success.started_at <= r.started_at <= success.ended_at]
    assert during, [(r.started_at, success.started_at, success.ended_at) for r in skipped]
    for run in skipped:
        assert "another sync of this integration is running" in run.error_message
    assert_no_overlapping_syncs()
    assert_fully_applied(apps_state())
    assert apps_state() != before


# -- Redis down ------------------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path, settings: Any) -> Iterator[RedisServer]:
    """A redis-server of this test's own (broker and cache), which the test stops and restarts."""
    server = RedisServer(tmp_path)
    server.start()
    default = dict(settings.CACHES["default"])
    if not default["BACKEND"].endswith("RedisCache"):
        default = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    # The portal's own cache configuration (timeouts included), pointed at this server.
    settings.CACHES = {"default": {**default, "LOCATION": server.url, "KEY_PREFIX": "outage"}}
    try:
        yield server
    finally:
        server.stop()


def sign_in(client: Client, username: str, password: str) -> int:
    """POST the sign-in form; return the status (302 on success)."""
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="198.51.100.9"
    )
    return int(response.status_code)


def test_redis_down_pages_work_issuance_works_and_sync_resumes(
    launch_scenario: LaunchScenario,
    private_redis: RedisServer,
    started: list[Worker],
    make_user: Any,
    tmp_path: Path,
) -> None:
    scenario = launch_scenario
    staff = make_user("operator", is_staff=True)
    worker = Worker(private_redis.url, scenario.sandbox.url, tmp_path / "worker.log").start()
    started.append(worker)
    beat_tick(worker)
    first = wait_for(
        lambda: SyncRun.objects.filter(
            trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.SUCCESS
        ).first(),
        60,
        "a scheduled sync before the outage",
        worker,
    )

    private_redis.stop()

    # Pages: sessions live in the database, and these pages never touch the cache.
    alice = Client()
    alice.force_login(scenario.alice)
    page = alice.get("/")
    assert page.status_code == 200
    assert scenario.app.name in page.content.decode()
    operator = Client()
    operator.force_login(staff)
    assert operator.get("/audit/").status_code == 200

    # Sign-in: the throttle counts refusals in the audit log while its cache is unreachable,
    # so the limit still holds (5 refusals, then 429) and a right password still works.
    attacker = Client()
    assert [sign_in(attacker, "bob", "wrong") for _ in range(5)] == [401] * 5
    assert sign_in(attacker, "bob", "correct horse battery") == 429
    assert sign_in(Client(), "alice", "correct horse battery") == 302

    # Issuance needs PostgreSQL and AWS, not Redis: console launch and CLI credentials work,
    # each with its audit row.
    issued_before = AuditEvent.objects.filter(
        event_type="aws_credentials.issued", outcome=AuditEvent.Outcome.SUCCESS
    ).count()
    launch = alice.post(f"/apps/{scenario.app.name}/launch", {"role": scenario.role_arn})
    assert launch.status_code == 302, launch.content[:500]
    assert launch["Location"].startswith(scenario.sandbox.url)
    token = token_create(actor=scenario.alice, user=scenario.alice, method="password").plaintext
    credentials = Client().post(
        f"/api/v1/apps/{scenario.app.name}/credentials",
        {"role_arn": scenario.role_arn},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert credentials.status_code == 200, credentials.content[:500]
    assert credentials.json()["AccessKeyId"]
    assert (
        AuditEvent.objects.filter(
            event_type="aws_credentials.issued", outcome=AuditEvent.Outcome.SUCCESS
        ).count()
        == issued_before + 2
    )

    # "Sync now" cannot reach the broker: the request is still recorded and nothing crashes;
    # the scheduled sync is the safety net.
    integration_sync_request(actor=staff, name="aws-prod")
    assert AuditEvent.objects.filter(event_type="integration.sync_requested").count() == 1

    # AWS changes while Redis is down; the first beat tick after Redis returns picks it up.
    scenario.ra.create_profile(name="AddedDuringOutage", roleArns=[scenario.role_arn], enabled=True)
    time.sleep(3)  # an outage of a few seconds: the worker is retrying its connection
    private_redis.start()
    wait_for(
        lambda: worker.tail(100_000).count("Connected to redis") >= 2,
        90,
        "the worker to reconnect to Redis",
        worker,
    )
    beat_tick(worker)
    resumed = wait_for(
        lambda: SyncRun.objects.filter(
            pk__gt=first.pk, trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.SUCCESS
        ).first(),
        90,
        "a scheduled sync after Redis returned",
        worker,
    )
    assert resumed.apps_created == 1
    assert AwsApp.objects.filter(profile_name="AddedDuringOutage").exists()
    assert worker.process is not None and worker.process.poll() is None, "the worker died"


def test_hung_redis_does_not_hang_the_sign_in_page(
    private_redis: RedisServer, make_user: Any
) -> None:
    make_user("carol")
    assert private_redis.process is not None
    os.kill(private_redis.process.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        started = time.monotonic()
        assert sign_in(Client(), "carol", "wrong") == 401
        assert sign_in(Client(), "carol", "correct horse battery") == 302
        # Each cache call gives up after the 1 s socket timeout instead of waiting forever.
        assert time.monotonic() - started < 15
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)
