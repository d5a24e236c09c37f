"""Real Celery worker processes for the fault tests: start, find the pool children, kill by PID.

A worker runs `celery -A APP worker` in its own session with the test database, the sandbox as
`AWS_ENDPOINT_URL` and a broker URL of the test's choosing, exactly as production starts one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    database = connection.settings_dict
    return (
        f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


@dataclass
class Worker:
    """One `celery worker` process (the main process plus its prefork pool children)."""

    broker_url: str
    sandbox_url: str
    log: Path
    app: str = "portal"
    concurrency: int = 1
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        """Start the worker and wait until its pool children exist."""
        environment = dict(os.environ)
        environment.update(
            {
                "ROLEGATE_ENV": "test",
                "DATABASE_URL": database_url(),
                "CELERY_BROKER_URL": self.broker_url,
                "REDIS_URL": self.broker_url,
                "AWS_ENDPOINT_URL": self.sandbox_url,
                "ROLEGATE_PROFILE_SYNC_RATE": "0",
                "ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS": "2",
                # The fault tests hold the sync in its listing by slowing every tag read; reads
                # that overlap would end it before the kill they time.
                "ROLEGATE_PROFILE_SYNC_TAG_WORKERS": "1",
                "ROLEGATE_CA_ENCRYPTION_KEY": str(settings.ROLEGATE_CA_ENCRYPTION_KEY),
                "ROLEGATE_CA_ENCRYPTION_KEY_FILE": str(settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE),
                "PYTHONPATH": str(ROOT),
            }
        )
        environment.update(self.env)
        with self.log.open("a") as output:
            self.process = subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    self.app,
                    "worker",
                    f"--concurrency={self.concurrency}",
                    "--pool=prefork",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--hostname=reliability-{os.getpid()}-{time.monotonic_ns()}@%h",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready()
        return self

    @property
    def pid(self) -> int:
        """The main process's PID."""
        assert self.process is not None, "the worker was not started"
        return self.process.pid

    def children(self) -> list[int]:
        """The PIDs of the prefork pool processes, oldest first."""
        return children_of(self.pid)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the "ready" line, which the main process logs once it consumes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.tail()}")
            if " ready." in self.log.read_text() and len(self.children()) >= self.concurrency:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the worker did not become ready in {timeout}s:\n{self.tail()}")

    def tail(self, size: int = 4000) -> str:
        """The end of the worker's log, for failure messages."""
        return self.log.read_text()[-size:] if self.log.exists() else ""

    def kill_main(self) -> list[int]:
        """SIGKILL the main process only; return the PIDs of the pool children it left."""
        orphans = self.children()
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)
        return orphans

    def kill_child(self) -> int:
        """SIGKILL the (first) pool child, the process running the task; return its PID."""
        children = self.children()
        assert children, "the worker has no pool child"
        pid = children[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        """Warm shutdown (children close their DB connections); SIGKILL the group if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0], parent PID [1])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid`, oldest first (from /proc: no extra dependency)."""
    found: list[tuple[int, int]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields and int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(fields[19]), int(entry.name)))  # (start time, pid)
    return [child for _, child in sorted(found)]


def is_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def wait_gone(pids: list[int], timeout: float = 60.0) -> bool:
    """Wait until none of `pids` is alive (zombies count as gone); True if they all went."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(is_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def kill_pids(pids: list[int]) -> None:
    """SIGKILL the given processes if they still exist (cleanup of orphans this test made)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class RedisServer:
    """A private `redis-server` on a free port, stoppable and restartable by PID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL of database 0 on this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart) the server on the same port, with no persistence."""
        log = (self.directory / "redis.log").open("a")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        import redis

        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop the server (SIGKILL by PID, as an outage would)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str, log: Worker | None = None) -> Any:
    """Poll `predicate()` until it returns something truthy; fail with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    detail = f"; worker log:\n{log.tail()}" if log is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
