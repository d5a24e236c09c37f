"""The reviewer's queue and approve/deny with a reason over the admin API (automation tokens)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.access.requests.models import AccessRequest
from apps.api.automation import automation_token_create
from tests.api.conftest import ApiClient
from tests.requests.conftest import TARGET_ROLE, People

pytestmark = pytest.mark.django_db


def reviewer_token(user: Any, name: str) -> ApiClient:
    issued = automation_token_create(actor=None, name=name, owner=user, scopes=["requests:review"])
    return ApiClient(issued.plaintext)


def test_queue_approve_and_deny_with_a_reason(people: People, token_for: Any) -> None:
    alice = token_for(people.alice)
    first = alice.post("/requests", {"roles": [TARGET_ROLE], "reason": "INC-1"}).json()["id"]
    second = alice.post("/requests", {"roles": [TARGET_ROLE], "reason": "INC-2"}).json()["id"]

    rita = reviewer_token(people.rita, "rita-bot")
    queue = rita.get("/requests/queue").json()
    assert {item["id"] for item in queue["items"]} == {first, second}
    assert queue["next_cursor"] is None
    paged = rita.get("/requests/queue?limit=1").json()
    assert len(paged["items"]) == 1
    rest = rita.get(f"/requests/queue?limit=1&cursor={paged['next_cursor']}").json()
    assert {paged["items"][0]["id"], rest["items"][0]["id"]} == {first, second}

    approved = rita.post(f"/requests/{first}/approve", {"reason": "on call for INC-1"})
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "approved"
    assert approved.json()["reviews"][0]["comment"] == "on call for INC-1"
    denied = rita.post(f"/requests/{second}/deny", {"reason": "not on call"})
    assert denied.json()["state"] == "denied"
    again = rita.post(f"/requests/{second}/approve", {"reason": "changed my mind"})
    assert again.status_code == 409
    assert rita.get("/requests/queue").json()["items"] == []

    # Someone whose roles do not cover db-* requests sees nothing and may decide nothing.
    third = alice.post("/requests", {"roles": [TARGET_ROLE], "reason": "INC-3"}).json()["id"]
    outsider = reviewer_token(people.outsider, "outsider-bot")
    assert outsider.get("/requests/queue").json()["items"] == []
    refused = outsider.post(f"/requests/{third}/approve", {"reason": "sure"})
    assert refused.status_code == 403
    assert AccessRequest.objects.get(pk=third).state == "pending"
    # The requester never reviews their own request, with a token neither.
    own = reviewer_token(people.alice, "alice-bot").post(f"/requests/{third}/approve", {})
    assert own.status_code == 403
