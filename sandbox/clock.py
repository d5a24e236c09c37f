"""A wall clock that tests can skew, shared by every part of the sandbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """UTC clock with an adjustable offset, so tests can move the sandbox's "now"."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        """The amount added to the real time."""
        with self._lock:
            return self._offset

    @offset.setter
    def offset(self, value: timedelta) -> None:
        if not isinstance(value, timedelta):
            raise TypeError("clock offset must be a datetime.timedelta")
        with self._lock:
            self._offset = value

    def now(self) -> datetime:
        """Return the sandbox's current time (aware, UTC)."""
        return datetime.now(UTC) + self.offset


def iso(moment: datetime) -> str:
    """Format `moment` the way AWS JSON APIs do (ISO 8601, UTC, milliseconds, `Z`)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
