"""The push runs in a real Celery worker, queued at commit (not at the next beat).

A `celery -A portal worker` process on Redis (the test's REDIS_URL) and the test database picks
up the task that ending alice's grant queues; the test only watches her credentials fail.
"""

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
from django.conf import settings
from django.db import connection
from filelock import FileLock
from kombu import Connection

from apps.access.requests import services as requests
from apps.integrations.models_revocation import RevocationRun
from portal.celery import app as celery_app
from tests.reliability.workers import RedisServer
from tests.revocation.conftest import KillScenario

pytestmark = [pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server as the broker: no other test's worker can take the push."""
    server = RedisServer(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def worker(
    kill: KillScenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker_url: str
) -> Iterator[Path]:
    """A worker on the test database and the sandbox; this process sends to the same broker."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", broker_url)
    # Forget connections and producers made for an earlier test's broker (a private server
    # that may be gone by now), so the push is published to this test's broker.
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    database = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "ROLEGATE_ENV": "test",
            "DATABASE_URL": (
                f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "CELERY_BROKER_URL": broker_url,
            "AWS_ENDPOINT_URL": kill.base.sandbox.url,
            "ROLEGATE_PROFILE_SYNC_RATE": "0",
            "ROLEGATE_CA_ENCRYPTION_KEY": str(settings.ROLEGATE_CA_ENCRYPTION_KEY),
            "ROLEGATE_CA_ENCRYPTION_KEY_FILE": str(settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE),
        }
    )
    # Other files' worker tests share the broker database: take turns (as tests/integrations).
    lock_name = "rolegate-celery-" + broker_url.rsplit("/", 1)[-1] + ".lock"
    with FileLock(str(Path(tempfile.gettempdir()) / lock_name)):
        with Connection(broker_url) as conn:
            cast(Any, conn.default_channel).queue_purge("celery")
        log = tmp_path / "worker.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("celery")),
                    "-A",
                    "portal",
                    "worker",
                    "--concurrency=1",
                    "--pool=solo",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--hostname=revocation-test-{os.getpid()}@%h",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while "ready" not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield log
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_ending_a_grant_revokes_through_the_worker(kill: KillScenario, worker: Path) -> None:
    grant = requests.access_request_create(
        actor=kill.alice, roles=["example-read-only-access"], reason="x", duration="30m"
    )
    requests.access_request_review(actor=kill.carol, request_id=grant.pk, decision="approve")
    alice = kill.credentials(kill.alice)
    bob = kill.credentials(kill.bob)
    assert kill.s3_works(alice)
    started = time.monotonic()
    requests.access_request_end(actor=kill.alice, request_id=grant.pk)
    while kill.s3_works(alice):
        assert time.monotonic() - started < 30, worker.read_text()[-3000:]
        time.sleep(0.1)
    assert kill.s3_works(bob)
    run = RevocationRun.objects.latest("id")
    assert run.status == "SUCCESS" and run.roles_written == 1
    assert "push_session_revocations" in worker.read_text()
