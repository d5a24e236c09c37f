"""Django's PostgreSQL backend plus a watchdog for a database that stops answering.

`statement_timeout` (set by settings) makes a live server cancel a slow statement, and
`connect_timeout` bounds a new connection; neither helps when the server process is frozen or
the network drops packets: an established connection then waits forever (the kernel still
acknowledges what is sent). The watchdog notes when a connection starts waiting on the server
(a statement, a commit or rollback, the health check) and, past the statement timeout plus a
grace period, shuts its socket down: psycopg then raises OperationalError at once and Django
drops the connection, as for any database failure.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base

log = logging.getLogger(__name__)

# Past the server-side statement timeout, so a live server always answers first.
GRACE_SECONDS = 3.0


class _Watchdog:
    """One daemon thread per process that cuts connections stuck past their deadline."""

    def __init__(self) -> None:
        self._waiting: dict[int, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def waiting(self, raw: object, seconds: float) -> Iterator[None]:
        if raw is None or seconds <= 0:
            yield
            return
        key = id(raw)
        self._waiting[key] = (time.monotonic() + seconds, raw)
        self._start()
        try:
            yield
        finally:
            self._waiting.pop(key, None)

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="rolegate-db-watchdog", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            for key, (deadline, raw) in list(self._waiting.items()):
                if now > deadline and self._waiting.pop(key, None) is not None:
                    self._cut(raw)

    @staticmethod
    def _cut(raw: Any) -> None:
        try:
            descriptor = os.dup(raw.pgconn.socket)
        except Exception:  # already closed: nothing is waiting on it any more
            return
        log.error("the database did not answer within its deadline; dropping the connection")
        with socket.socket(fileno=descriptor) as sock, contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_watchdog = _Watchdog()


def deadline_seconds() -> float:
    """How long one wait on the server may last before the watchdog cuts the connection."""
    statement = float(getattr(settings, "ROLEGATE_DB_STATEMENT_TIMEOUT", 0) or 0)
    return statement + GRACE_SECONDS if statement > 0 else 0.0


class DatabaseWrapper(base.DatabaseWrapper):
    """The PostgreSQL backend with every wait on the server under the watchdog."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(self._guarded_execute)

    def _guard(self) -> contextlib.AbstractContextManager[None]:
        return _watchdog.waiting(self.connection, deadline_seconds())

    def _guarded_execute(
        self, execute: Callable[..., Any], sql: object, params: object, many: bool, context: object
    ) -> Any:
        with self._guard():
            return execute(sql, params, many, context)

    def is_usable(self) -> bool:
        with self._guard():
            return bool(super().is_usable())

    def _commit(self) -> None:
        with self._guard():
            super()._commit()  # type: ignore[misc]  # django-stubs omit the private hook

    def _rollback(self) -> None:
        with self._guard():
            super()._rollback()  # type: ignore[misc]  # django-stubs omit the private hook
