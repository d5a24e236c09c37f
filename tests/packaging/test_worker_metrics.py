"""A real `rolegate-server worker` (prefork) serves its own /metrics: a sync task run in a
child process shows up in the counters the main process serves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from tests.integrations.test_status_pages import make_integration
from tests.packaging.support import ROOT, free_port, http, stop

TOKEN = "worker-metrics-token-0123456789"
SYNC_TASK = "apps.integrations.tasks.sync_integration"

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _count(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_serves_sync_metrics_from_its_children(
    private_redis: str, tmp_path: Path, settings: Any
) -> None:
    integration = make_integration("aws-metrics", sync_enabled=False)
    database = settings.DATABASES["default"]
    port = free_port()
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "CELERY_BROKER_URL": private_redis,
        "ROLEGATE_METRICS_TOKEN": TOKEN,
        "ROLEGATE_WORKER_METRICS_PORT": str(port),
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portal.server",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=tmp_path,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    # Not the current app: shared tasks resolve through the current app, so a current "sender"
    # would make later tests in this process publish Rolegate's tasks to this test's broker.
    sender = Celery("sender", broker=private_redis, set_as_current=False)
    sender.conf.task_serializer = "json"
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert worker.poll() is None, log.read_text()
            try:
                if http(url, timeout=2).status == 401:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        sender.send_task(SYNC_TASK, args=[integration.pk, "schedule"])
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        runs = 'rolegate_sync_runs_total{status="NOT_RUN"}'
        while _count(http(url, headers=bearer).body.decode(), runs) < 1:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        text = http(url, headers=bearer).body.decode()
        assert _count(text, runs) == 1
        assert _count(text, 'rolegate_sync_duration_seconds_count{status="NOT_RUN"}') == 1
        assert http(url, headers={"Authorization": "Bearer wrong"}).status == 401
    finally:
        stop(worker)
        sender.close()
