"""The portal's Celery app with a visibility timeout of a few seconds, for one test only.

Settings refuse a `ROLEGATE_CELERY_VISIBILITY_TIMEOUT` under 60 s (a foot-gun in production), so
the redelivery test starts its worker with `-A tests.reliability.short_visibility` instead; every
other setting is the portal's. The restore sweep runs every second so redelivery is prompt.
"""

from __future__ import annotations

import os

from portal.celery import app

app.conf.broker_transport_options = {
    "visibility_timeout": int(os.environ.get("RELIABILITY_VISIBILITY_TIMEOUT", "2")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

__all__ = ["app"]
