"""Two real beat processes on Redis: each periodic sync is enqueued once per interval."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from tests.packaging.support import ROOT, stop

INTERVAL = 2.0
SYNC_TASK = "apps.integrations.tasks.sync_all_integrations"

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _beat(broker: str, log: Path) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CELERY_BROKER_URL": broker,
        "ROLEGATE_BEAT_LOCK_TIMEOUT": "5",
        "ROLEGATE_TEST_BEAT_INTERVAL": str(INTERVAL),
    }
    with log.open("wb") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.packaging.beat_app",
                "beat",
                "--loglevel",
                "INFO",
            ],
            cwd=log.parent,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def test_two_beats_enqueue_each_sync_once_per_interval(private_redis: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(private_redis)
    seen: list[float] = []
    done = threading.Event()

    def consume() -> None:
        # Take messages off the default queue as they arrive, noting when each sync was sent.
        while not done.is_set():
            item = client.blpop(["celery"], timeout=0.5)
            if item is not None:
                message = json.loads(item[1])
                if message["headers"]["task"] == SYNC_TASK:
                    seen.append(time.monotonic())

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    beats = [_beat(private_redis, tmp_path / f"beat-{n}.log") for n in (1, 2)]
    try:
        # Both are up and scheduling when the first sync has been sent.
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            assert all(beat.poll() is None for beat in beats), "a beat process exited"
            time.sleep(0.2)
        assert seen, "no sync was enqueued within 60 s"
        start = seen[0]
        window = 5 * INTERVAL
        time.sleep(window + INTERVAL / 2)
        assert all(beat.poll() is None for beat in beats), "a beat process exited"
        in_window = [moment for moment in seen if moment - start <= window + INTERVAL / 4]
        # One enqueue per interval: 6 ticks in 5 intervals counting the first; two beats that
        # both scheduled would give twice that.
        assert 5 <= len(in_window) <= 7, [round(m - start, 2) for m in seen]
        gaps = [later - earlier for earlier, later in itertools.pairwise(in_window)]
        assert min(gaps) > INTERVAL / 2, [round(g, 2) for g in gaps]
        logs = [(tmp_path / f"beat-{n}.log").read_text() for n in (1, 2)]
        assert sum("redbeat" in log.lower() for log in logs) == 2, logs

        # The beat holding the lock dies: the other takes over within the lock timeout.
        holder = next(
            beat for beat, log in zip(beats, logs, strict=True) if "Sending due task" in log
        )
        holder.kill()
        holder.wait()
        killed_at = time.monotonic()
        deadline = killed_at + 5 + 4 * INTERVAL
        while time.monotonic() < deadline and not [m for m in seen if m > killed_at + 0.1]:
            time.sleep(0.2)
        assert [m for m in seen if m > killed_at + 0.1], "the second beat never took over"
    finally:
        done.set()
        for beat in beats:
            stop(beat)
        consumer.join(timeout=5)
        client.close()
