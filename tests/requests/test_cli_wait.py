"""`request create --wait` polling, with time and the API injected (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rolegate import requests_cli
from rolegate.errors import CliError, ExitCode

DEADLINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeApi:
    """Answers GET /requests/{id} with the next state in line, recording the calls."""

    def __init__(self, states: list[str]) -> None:
        self.states = states
        self.calls: list[tuple[str, str]] = []

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.calls.append((method, path))
        return item(self.states.pop(0))


def item(state: str) -> dict[str, Any]:
    return {"id": "0f" * 16, "state": state, "review_deadline": DEADLINE.isoformat()}


def test_polls_until_decided_at_the_configured_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLEGATE_REQUEST_POLL_SECONDS", "0.5")
    api = FakeApi(["pending", "pending", "approved"])
    slept: list[float] = []
    final = requests_cli.wait_for_decision(
        api, item("pending"), sleep=slept.append, now=lambda: DEADLINE - timedelta(hours=1)
    )
    assert final["state"] == "approved"
    assert slept == [0.5, 0.5, 0.5]
    assert api.calls == [("GET", f"/requests/{'0f' * 16}")] * 3


def test_gives_up_after_the_review_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    moments = iter([DEADLINE - timedelta(seconds=5), DEADLINE + timedelta(minutes=2)])
    api = FakeApi(["pending"])
    final = requests_cli.wait_for_decision(
        api, item("pending"), sleep=lambda _: None, now=lambda: next(moments)
    )
    assert final["state"] == "expired" and len(api.calls) == 1
    with pytest.raises(CliError) as caught:
        requests_cli._outcome(final)
    assert caught.value.code == ExitCode.DENIED and "expired" in caught.value.message


def test_a_bad_poll_interval_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLEGATE_REQUEST_POLL_SECONDS", "soon")
    with pytest.raises(CliError) as caught:
        requests_cli.wait_for_decision(FakeApi([]), item("pending"), sleep=lambda _: None)
    assert caught.value.code == ExitCode.USAGE


def test_an_unexpected_answer_is_a_server_error() -> None:
    class Broken:
        def call(self, method: str, path: str, body: Any = None) -> Any:
            return ["not", "a", "request"]

    with pytest.raises(CliError) as caught:
        requests_cli.wait_for_decision(
            Broken(), item("pending"), sleep=lambda _: None, now=lambda: DEADLINE
        )
    assert caught.value.code == ExitCode.SERVER
