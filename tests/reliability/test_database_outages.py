"""A private PostgreSQL stopped and frozen (SIGSTOP) under a real Rolegate process.

Rolegate runs in its own process (`rolegate_process`) on a throw-away cluster, with its own
sandbox; the test stops or freezes that cluster while an issuance waits on a slow CreateSession
(the sandbox has made the session, its answer is late) or while a sync lists profiles, then
compares AWS's side (the sandbox's record of sessions) with Rolegate's rows in the database.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import urllib3
from django.conf import settings

from tests.reliability.postgres import PrivatePostgres

ROOT = Path(__file__).resolve().parents[2]
STATEMENT_TIMEOUT = 1  # seconds; the watchdog cuts a frozen server's connection 3 s later

pytestmark = pytest.mark.xdist_group("private-postgres")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().start()
    try:
        yield server
    finally:
        server.remove()


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        {
            "ROLEGATE_ENV": "test",
            "PYTHONPATH": str(ROOT),
            "ROLEGATE_CA_ENCRYPTION_KEY": str(settings.ROLEGATE_CA_ENCRYPTION_KEY),
            "ROLEGATE_CA_ENCRYPTION_KEY_FILE": str(settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE),
            "ROLEGATE_DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
            "ROLEGATE_DB_CONNECT_TIMEOUT": "2",
            "ROLEGATE_PROFILE_SYNC_RATE": "0",
            "CELERY_BROKER_URL": "memory://",
        }
    )
    environment.pop("REDIS_URL", None)  # local-memory cache: this process needs no Redis
    return environment


class Rolegate:
    """The driven process: send commands, read their JSON results, talk to its sandbox."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.rolegate_process"],
            cwd=ROOT,
            env={**_environment(), "DATABASE_URL": database_url},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.result(timeout=120)
        assert ready.get("ready"), ready
        self.sandbox = str(ready["sandbox"])
        self.http = urllib3.PoolManager()
        # The scenario's own profile sync signed in with CreateSession: not the test's.
        self.baseline = len(self._all_sessions())

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def result(self, timeout: float) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no answer in {timeout}s; log:\n{Path(self.log.name).read_text()[-3000:]}"
            ) from None

    def fault(self, **rule: Any) -> None:
        response = self.http.request("POST", f"{self.sandbox}/_sandbox/faults", json=rule)
        assert response.status == 200, response.data

    def _all_sessions(self) -> list[dict[str, str]]:
        response = self.http.request("GET", f"{self.sandbox}/_sandbox/sessions")
        return list(json.loads(response.data)["sessions"])

    def sessions(self) -> list[dict[str, str]]:
        """The sessions AWS (the sandbox) made since the scenario was built."""
        return self._all_sessions()[self.baseline :]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


@pytest.fixture
def rolegate(cluster: PrivatePostgres, tmp_path: Path, request: Any) -> Iterator[Rolegate]:
    name = "t_" + "".join(ch for ch in request.node.name.lower() if ch.isalnum())[:40]
    url = cluster.fresh_database(name, _environment())
    process = Rolegate(url, tmp_path / "rolegate.log")
    process.database_url = url  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        cluster.thaw()
        if cluster.process is None or cluster.process.poll() is not None:
            cluster.start()
        process.stop()


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return list(conn.execute(query).fetchall())  # type: ignore[arg-type]


INTENT_SERIALS = (
    "SELECT details->>'certificate_serial' FROM audit_auditevent "
    "WHERE event_type = 'aws_credentials.requested' AND outcome = 'pending' ORDER BY id"
)
SUCCESSES = (
    "SELECT count(*) FROM audit_auditevent "
    "WHERE event_type = 'aws_credentials.issued' AND outcome = 'success'"
)


def wait_for_session(rolegate: Rolegate, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(rolegate.sessions()) < count:
        assert time.monotonic() < deadline, "the sandbox never made the session"
        time.sleep(0.05)


def assert_every_session_has_its_intent(rolegate: Rolegate) -> None:
    # The sandbox prints serials unpadded; Rolegate stores them fixed-width: compare numbers.
    made = sorted(int(session["serial"], 16) for session in rolegate.sessions())
    recorded = sorted(int(str(row[0]), 16) for row in rows(rolegate.database_url, INTENT_SERIALS))  # type: ignore[attr-defined]
    assert made == recorded, (made, recorded)


def test_database_stopped_while_create_session_is_slow(
    cluster: PrivatePostgres, rolegate: Rolegate
) -> None:
    """AWS made the session, then the database died: no credentials are handed out, and the
    intent committed before CreateSession records the session (its leaf serial)."""
    rolegate.fault(type="slow_answer", operation="CreateSession", seconds=2)
    rolegate.send("issue")
    wait_for_session(rolegate, 1)
    cluster.stop()
    result = rolegate.result(timeout=30)
    cluster.start()

    assert result["outcome"] == "AuditUnavailable", result.get("trace")
    assert "AWS issued the credentials" in result["message"]
    assert len(rolegate.sessions()) == 1
    assert_every_session_has_its_intent(rolegate)
    assert rows(rolegate.database_url, SUCCESSES) == [(0,)]  # type: ignore[attr-defined]


def test_database_frozen_while_create_session_is_slow(
    cluster: PrivatePostgres, rolegate: Rolegate
) -> None:
    """A frozen database fails the outcome write in seconds (statement timeout plus the
    watchdog's grace), not at the web server's timeout; the intent row still stands."""
    rolegate.fault(type="slow_answer", operation="CreateSession", seconds=1)
    rolegate.send("issue")
    wait_for_session(rolegate, 1)
    cluster.freeze()
    try:
        result = rolegate.result(timeout=30)
    finally:
        cluster.thaw()

    assert result["outcome"] == "AuditUnavailable", result.get("trace")
    assert result["seconds"] < STATEMENT_TIMEOUT + 3 + 5, result
    assert_every_session_has_its_intent(rolegate)
    assert rows(rolegate.database_url, SUCCESSES) == [(0,)]  # type: ignore[attr-defined]


def test_database_down_before_issuance_means_aws_is_never_asked(
    cluster: PrivatePostgres, rolegate: Rolegate
) -> None:
    cluster.stop()
    rolegate.send("issue")
    result = rolegate.result(timeout=30)
    cluster.start()

    assert result["outcome"] in ("AuditUnavailable", "OperationalError"), result
    assert rolegate.sessions() == []
    assert rows(rolegate.database_url, INTENT_SERIALS) == []  # type: ignore[attr-defined]


def test_issuances_after_recovery_are_recorded_as_usual(
    cluster: PrivatePostgres, rolegate: Rolegate
) -> None:
    cluster.stop()
    cluster.start()
    rolegate.send("issue")
    assert rolegate.result(timeout=30)["outcome"] == "issued"
    assert_every_session_has_its_intent(rolegate)
    assert rows(rolegate.database_url, SUCCESSES) == [(1,)]  # type: ignore[attr-defined]


def _wait_running(url: str) -> None:
    deadline = time.monotonic() + 30
    while not rows(url, "SELECT id FROM integrations_syncrun WHERE status = 'RUNNING'"):
        assert time.monotonic() < deadline, "the sync never started"
        time.sleep(0.05)


RUNS = "SELECT status, error_message FROM integrations_syncrun ORDER BY id"


@pytest.mark.parametrize("fault", ["stop", "freeze"])
def test_a_sync_that_loses_its_database_ends_in_error(
    cluster: PrivatePostgres, rolegate: Rolegate, fault: str
) -> None:
    """The database goes away while the sync lists (slowed in the sandbox) and comes back a
    few seconds later: the run is recorded ERROR, naming the database, and none stays
    RUNNING."""
    url = rolegate.database_url  # type: ignore[attr-defined]
    # The stop must land while the sync still lists, however slowly a loaded machine runs the
    # test's own steps; a restarted server breaks the sync's connection even if it is back
    # before the write, so the longer listing changes nothing else.
    listing = 4 if fault == "stop" else 2
    rolegate.fault(type="latency", operation="ListTagsForResource", seconds=listing)
    rolegate.send("sync")
    _wait_running(url)
    if fault == "stop":
        cluster.stop()
        time.sleep(1.5)
        cluster.start()
    else:
        # Past the listing (2 s) plus the statement timeout and the watchdog's grace, so the
        # sync's write is cut while the database is still frozen.
        cluster.freeze()
        time.sleep(STATEMENT_TIMEOUT + 8)
        cluster.thaw()
    result = rolegate.result(timeout=60)

    runs = rows(url, RUNS)
    assert result["outcome"] in ("OperationalError", "InterfaceError"), result
    assert all(status != "RUNNING" for status, _ in runs), runs
    status, message = runs[-1]
    assert status == "ERROR"
    assert "lost its database" in message and url.rsplit("/", 1)[1] in message, message


def test_a_database_outage_is_a_styled_503_page(
    cluster: PrivatePostgres, rolegate: Rolegate
) -> None:
    rolegate.send("get /")
    assert rolegate.result(timeout=30)["outcome"] == 200

    cluster.stop()
    rolegate.send("get /")
    stopped = rolegate.result(timeout=30)
    cluster.start()
    cluster.freeze()
    try:
        rolegate.send("get /")
        frozen = rolegate.result(timeout=30)
    finally:
        cluster.thaw()

    for answer in (stopped, frozen):
        assert answer["outcome"] == 503, answer
        assert "Rolegate is temporarily unavailable" in answer["body"]
        assert "css/app.css" in answer["body"]
    assert frozen["seconds"] < 10, frozen
