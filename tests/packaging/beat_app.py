"""Rolegate's Celery app with the sync scheduled every 2 seconds, for tests/packaging/test_beat.py.

Everything else (the redbeat scheduler, its Redis and lock settings) comes from portal.settings.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from portal.celery import app, beat_schedule

__all__ = ["app"]


@app.on_after_finalize.connect
def _short_interval(sender: Celery, **kwargs: Any) -> None:
    # Connected after portal.celery's own handler, so this schedule is the one beat runs.
    interval = float(os.environ["ROLEGATE_TEST_BEAT_INTERVAL"])
    schedule = beat_schedule(30)
    entry = schedule["sync-all-integrations"]
    entry["schedule"] = interval
    entry["options"] = {"expires": interval}
    sender.conf.beat_schedule = schedule
