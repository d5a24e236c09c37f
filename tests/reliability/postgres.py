"""A private PostgreSQL cluster for fault tests: initdb under a tmp dir, a free port, and
stop / freeze (SIGSTOP) / thaw by PID. Never the machine's shared server.

The migrated schema is made once per test session (a template database) and copied for each
test, so a test pays for `CREATE DATABASE ... TEMPLATE`, not for the migrations.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "rolegate_template"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"{name} not found: install PostgreSQL's server binaries")


class PrivatePostgres:
    """One throw-away cluster; `url(name)` points Rolegate at one of its databases."""

    def __init__(self, directory: Path | None = None) -> None:
        # Its own directory straight under the system temp dir: pytest's tmp_path sits under
        # directories only root may enter, and the server runs as `postgres` when we are root.
        self.directory = directory or Path(tempfile.mkdtemp(prefix="rolegate-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # initdb and postgres refuse to run as root; the tests may.
        self._demote = os.geteuid() == 0
        self._user = "postgres" if self._demote else pwd.getpwuid(os.geteuid()).pw_name

    def _run_as(self) -> dict[str, Any]:
        if not self._demote:
            return {}
        entry = pwd.getpwnam("postgres")
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    # fsync=off is safe for these tests (a killed server's writes sit in the OS cache); the
    # default synchronous_commit=on is not optional: with it off, an immediate stop loses the
    # last commits, the very intent rows these tests look for (production must keep it on).
    def start(self) -> PrivatePostgres:
        """initdb (first time) and start the server; wait until it accepts connections."""
        if not self.data.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            if self._demote:
                entry = pwd.getpwnam("postgres")
                os.chown(self.directory, entry.pw_uid, entry.pw_gid)
            result = subprocess.run(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
                check=False,
                capture_output=True,
                **self._run_as(),
            )
            if result.returncode:
                raise RuntimeError(f"initdb failed: {result.stderr.decode(errors='replace')}")
        log = (self.directory / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [
                _pg_bin("postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.directory}",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **self._run_as(),
        )
        log.close()
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"private postgres did not start:\n{self.log_tail()}")

    def log_tail(self) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def ensure_template(self, env: dict[str, str]) -> None:
        """Create the migrated template database (once per cluster)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)
            ).fetchone()
        if exists:
            return
        self.sql(f"CREATE DATABASE {TEMPLATE}")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": self.url(TEMPLATE)},
            check=True,
            capture_output=True,
            timeout=300,
        )

    def fresh_database(self, name: str, env: dict[str, str]) -> str:
        """A migrated, empty database called `name`; return its URL."""
        self.ensure_template(env)
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: connections stay open, nothing answers."""
        for pid in [self.pid, *_descendants(self.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in [self.pid, *_descendants(self.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop at once (SIGQUIT: immediate shutdown, as a crash would), by PID."""
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def remove(self) -> None:
        """Stop and delete the cluster's files."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
