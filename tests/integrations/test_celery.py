"""The sync through a real Celery worker on Redis: two workers at once on one integration (one
skips, no duplicate apps), and the beat fan-out with JSON-serialized task arguments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from django.conf import settings
from django.db import connection
from filelock import FileLock
from kombu import Connection

from apps.integrations.models import SyncRun
from apps.integrations.services import integration_apply
from apps.integrations.spec import integration_spec_from_document
from apps.integrations.tasks import sync_all_integrations, sync_integration
from apps.resources.models import AwsApp
from tests.integrations.conftest import Account

pytestmark = [pytest.mark.xdist_group("celery"), pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def via(conn: Connection) -> dict[str, Any]:
    """Send over this broker connection (the stubs do not know apply_async's `connection`)."""
    return {"connection": conn}


def broker_url() -> str:
    """The test's own Redis database (REDIS_URL), used as the broker."""
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"


@pytest.fixture
def worker(account: Account, tmp_path: Path) -> Iterator[Path]:
    """A `celery -A portal worker` (2 processes) on the test database and the sandbox.

    The worker shares the Redis broker database with any other xdist process running these
    tests, and `xdist_group` alone does not keep them on one process (pytest-xdist 3.8 with
    pytest 9 ignores it here), so a file lock makes them take turns.
    """
    lock_name = "rolegate-celery-" + broker_url().rsplit("/", 1)[-1] + ".lock"
    with FileLock(str(Path(tempfile.gettempdir()) / lock_name)):
        with Connection(broker_url()) as conn:
            cast(Any, conn.default_channel).queue_purge("celery")
        log = tmp_path / "worker.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("celery")),
                    "-A",
                    "portal",
                    "worker",
                    "--concurrency=2",
                    "--pool=prefork",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--hostname=integrations-test-{os.getpid()}@%h",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=worker_environment(account),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield log
        finally:
            # Warm shutdown first so the children close their database connections.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def worker_environment(account: Account) -> dict[str, str]:
    """The test's database (pytest-django's `test_` one), broker, sandbox and CA key."""
    env = dict(os.environ)
    database = connection.settings_dict
    env.update(
        {
            "ROLEGATE_ENV": "test",
            "DATABASE_URL": (
                f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "CELERY_BROKER_URL": broker_url(),
            "AWS_ENDPOINT_URL": account.sandbox.url,
            "ROLEGATE_PROFILE_SYNC_RATE": "0",
            "ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS": "2",
            "ROLEGATE_CA_ENCRYPTION_KEY": str(settings.ROLEGATE_CA_ENCRYPTION_KEY),
            "ROLEGATE_CA_ENCRYPTION_KEY_FILE": str(settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE),
        }
    )
    return env


def create(account: Account, name: str, filters: list[str]) -> int:
    document = yaml.safe_load(account.integration_yaml(name, filters=filters))
    spec = integration_spec_from_document(document)
    integration = integration_apply(actor=None, spec=spec, request_sync=False)
    return int(integration.pk)


def wait_for_runs(count: int, log: Path, timeout: float = 90.0) -> list[SyncRun]:
    """Poll the database (the worker is another process) until `count` runs have ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).order_by("id"))
        if len(runs) >= count:
            return runs
        time.sleep(0.2)
    pytest.fail(
        f"only {SyncRun.objects.count()} run(s) after {timeout}s; worker log:\n"
        + log.read_text()[-4000:]
    )


def test_two_workers_one_integration_one_skips_no_duplicates(
    account: Account, worker: Path
) -> None:
    for index in range(6):
        account.add_profile(f"App-{index}")
    integration_id = create(account, "aws-prod", ["App-*"])
    # Slow tag calls so that both tasks are inside the sync at the same time.
    account.sandbox.faults.latency(0.4, operation="ListTagsForResource")

    with Connection(broker_url()) as conn:
        for _ in range(2):
            sync_integration.apply_async(args=(integration_id, "admin"), **via(conn))

    runs = wait_for_runs(2, worker)
    assert sorted(run.status for run in runs) == ["SKIPPED", "SUCCESS"], [
        (run.status, run.error_message) for run in runs
    ]
    success = next(run for run in runs if run.status == "SUCCESS")
    skipped = next(run for run in runs if run.status == "SKIPPED")
    # The skipped one was tried while the other was running.
    assert success.ended_at is not None
    assert skipped.started_at <= success.ended_at
    assert "another sync of this integration is running" in skipped.error_message
    assert AwsApp.objects.count() == 6
    assert success.apps_created == 6


def test_beat_fan_out_runs_one_task_per_enabled_integration(account: Account, worker: Path) -> None:
    account.add_profile("Team-A")
    account.add_profile("Ops-B")
    create(account, "team", ["Team-*"])
    create(account, "ops", ["Ops-*"])
    disabled = yaml.safe_load(
        account.integration_yaml("dormant").replace("enabled: true", "enabled: false")
    )
    integration_apply(actor=None, spec=integration_spec_from_document(disabled), request_sync=False)

    with Connection(broker_url()) as conn:
        sync_all_integrations.apply_async(**via(conn))

    runs = wait_for_runs(2, worker)
    assert sorted((run.integration.name, run.status) for run in runs) == [
        ("ops", "SUCCESS"),
        ("team", "SUCCESS"),
    ]
    assert {run.trigger for run in runs} == {"schedule"}
    assert sorted(AwsApp.objects.values_list("name", flat=True)) == ["ops-b-ops", "team-a-team"]
