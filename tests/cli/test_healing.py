"""The CLI heals its own files (issue 17, item 6), with real processes and a real socket.

A login file that cannot be read is "run rolegate login" (exit 3), never a traceback; a cache
entry that cannot be parsed is discarded and rewritten; against a proxy that accepts and never
answers, the lock holder gives up after the read timeout and leaves a failure marker, so the
waiters fail at once with the same exit code (4) instead of asking the proxy again in turn.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli.conftest import APP, ROLE_ARN, StubApi, rolegate, write_login

CREDENTIALS = ["aws", "credentials", "--app", APP, "--aws-role", ROLE_ARN]


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not utf-8", b"{", b"[]", b'{"proxy": 1}', b"[" * 100_000, b'"just a string"'],
    ids=["not-utf8", "cut", "list", "missing-keys", "nested", "string"],
)
def test_an_unusable_login_file_is_exit_3_with_the_hint(
    content: bytes, cli_env: dict[str, str]
) -> None:
    home = Path(cli_env["ROLEGATE_HOME"])
    home.mkdir(mode=0o700, parents=True)
    (home / "login.json").write_bytes(content)
    for args in (CREDENTIALS, ["status"], ["apps", "ls"]):
        result = rolegate(args, cli_env)
        assert result.returncode == 3, (args, result.stderr)
        assert result.stderr.endswith("; run rolegate login\n"), result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "content", [b"[" * 100_000, b"{" * 50_000, b"\x00\x01", b'{"key": '], ids=str
)
def test_a_malformed_cache_entry_is_discarded_and_rewritten(
    content: bytes, stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    first = rolegate(CREDENTIALS, cli_env)
    assert first.returncode == 0, first.stderr
    (entry,) = (Path(cli_env["ROLEGATE_HOME"]) / "cache").glob("*.json")
    entry.write_bytes(content)
    healed = rolegate(CREDENTIALS, cli_env)
    assert healed.returncode == 0, healed.stderr
    assert stub_api.credentials_requests() == 2
    stored = json.loads(entry.read_bytes())
    assert stored["credentials"]["AccessKeyId"] == json.loads(healed.stdout)["AccessKeyId"]
    again = rolegate(CREDENTIALS, cli_env)
    assert again.returncode == 0 and stub_api.credentials_requests() == 2


class SilentProxy:
    """Accepts connections and reads requests, never answers; counts what arrived."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = 0
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()

    def serve(self) -> None:
        while not self.closed.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        try:
            data = connection.recv(65536)
        except OSError:
            return
        if b"/credentials" in data:
            with self.lock:
                self.requests += 1

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_proxy() -> Iterator[SilentProxy]:
    proxy = SilentProxy()
    threading.Thread(target=proxy.serve, daemon=True).start()
    try:
        yield proxy
    finally:
        proxy.close()


def test_waiters_fail_fast_with_the_holders_exit_code(
    silent_proxy: SilentProxy, cli_env: dict[str, str]
) -> None:
    cli_env["ROLEGATE_READ_TIMEOUT"] = "3"
    write_login(cli_env, silent_proxy.url)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: rolegate(CREDENTIALS, cli_env), range(6)))
    for result in results:
        assert result.returncode == 4, result.stderr
        assert "did not answer in time" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    # One holder asked the proxy; the others took its failure marker instead of asking again.
    assert silent_proxy.requests == 1
    marker = next((Path(cli_env["ROLEGATE_HOME"]) / "cache").glob("*.failed"))
    assert json.loads(marker.read_text())["code"] == 4
    # A new command (not a waiter) tries for real again.
    again = rolegate(CREDENTIALS, cli_env)
    assert again.returncode == 4 and silent_proxy.requests == 2
