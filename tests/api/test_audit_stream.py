"""The audit `since` stream: resuming from a cursor loses and repeats nothing, even while
events are written concurrently and a slow transaction commits an older event id late."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from apps.audit.services import audit_record
from tests.api.test_admin_api import Call, token


def _write(
    names: list[str],
    written: list[int],
    *,
    hold: threading.Event | None = None,
    started: threading.Event | None = None,
) -> None:
    try:
        for name in names:
            with transaction.atomic():
                event = audit_record(
                    event_type="role.created", actor=None, target_kind="role", target_name=name
                )
                if started is not None:
                    started.set()
                if hold is not None:
                    hold.wait(20)
            written.append(event.id)
    finally:
        connection.close()


def _poll(caller: Call, since: str, seen: list[int]) -> str:
    """Read pages until caught up; returns the cursor to resume from.

    Every poll is itself audited (automation_token.used), so the stream never stands still:
    a page shorter than the limit means everything up to this poll has been read.
    """
    while True:
        response = caller.get(f"/audit/events?since={since}&limit=7")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["next_cursor"]
        seen += [item["id"] for item in body["items"] if item["event_type"] == "role.created"]
        since = body["next_cursor"]
        if len(body["items"]) < 7:
            return since


@pytest.mark.django_db(transaction=True)
def test_the_stream_has_no_gaps_or_duplicates(make_user: Any) -> None:
    owner = make_user("siem-owner", is_staff=True, groups=["auditor"])
    caller = token(owner, ["audit:read"], name="siem")
    seen: list[int] = []
    written: list[int] = []
    cursor = _poll(caller, "start", seen)
    assert seen == []

    # A slow transaction takes an event id first and commits it last.
    hold, started = threading.Event(), threading.Event()
    slow = threading.Thread(
        target=_write, args=(["slow"], written), kwargs={"hold": hold, "started": started}
    )
    slow.start()
    assert started.wait(20)
    writers = [
        threading.Thread(target=_write, args=([f"w{n}-{i}" for i in range(15)], written))
        for n in range(3)
    ]
    for writer in writers:
        writer.start()
    # Poll while the writers run: each page resumes from the previous cursor.
    while any(writer.is_alive() for writer in writers):
        cursor = _poll(caller, cursor, seen)
    for writer in writers:
        writer.join()
    cursor = _poll(caller, cursor, seen)
    hold.set()
    slow.join()
    cursor = _poll(caller, cursor, seen)

    assert len(written) == 46
    assert len(seen) == len(set(seen)), "an event was returned twice"
    assert sorted(seen) == sorted(written), "an event was never returned"
    slow_id = min(written)
    # The slow event has the lowest id yet arrived last: an id cursor would have skipped it.
    assert seen[-1] == slow_id
    after: list[int] = []
    _poll(caller, cursor, after)
    assert after == []
