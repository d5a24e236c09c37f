"""The access request API (/api/v1/requests) for three personas, and self-review refused there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.access.requests.models import AccessRequest, AccessReview
from tests.api.conftest import ApiClient
from tests.requests.conftest import TARGET_ROLE, People

pytestmark = pytest.mark.django_db


def test_create_list_show_and_review(people: People, token_for: Any) -> None:
    alice = token_for(people.alice)
    created = alice.post(
        "/requests", {"roles": [TARGET_ROLE], "reason": "INC-7", "duration": "90m"}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "pending" and body["roles"] == [TARGET_ROLE]
    assert body["duration"] == "1h30m" and body["requester"] == "alice"
    assert body["reviews"] == [] and body["access_ends_at"] is None
    request_id = body["id"]

    assert [r["id"] for r in alice.get("/requests").json()["items"]] == [request_id]
    assert alice.get(f"/requests/{request_id}").json()["reason"] == "INC-7"

    rita = token_for(people.rita)
    # Only her own requests are listed.
    assert rita.get("/requests").json() == {"items": [], "next_cursor": None}
    assert rita.get(f"/requests/{request_id}").status_code == 200  # she may review it
    reviewed = rita.post(
        f"/requests/{request_id}/reviews", {"decision": "approve", "comment": "ok"}
    )
    assert reviewed.status_code == 200, reviewed.content
    assert reviewed.json()["state"] == "approved"
    assert reviewed.json()["reviews"][0] == {
        "reviewer": "rita",
        "decision": "approve",
        "comment": "ok",
        "created_at": reviewed.json()["reviews"][0]["created_at"],
    }
    again = token_for(people.ray).post(f"/requests/{request_id}/reviews", {"decision": "deny"})
    assert again.status_code == 409 and again.json()["code"] == "request_closed"
    assert alice.get(f"/requests/{request_id}").json()["access_ends_at"] is not None


def test_personas(people: People, token_for: Any) -> None:
    item = AccessRequest.objects.create(
        requester=people.alice,
        roles=[TARGET_ROLE],
        duration=timedelta(hours=1),
        review_deadline=timezone.now() + timedelta(hours=1),
    )
    anonymous = ApiClient()
    for path in ("/requests", f"/requests/{item.pk}"):
        assert anonymous.get(path).status_code == 401
    assert anonymous.post("/requests", {"roles": [TARGET_ROLE]}).status_code == 401
    assert (
        anonymous.post(f"/requests/{item.pk}/reviews", {"decision": "approve"}).status_code == 401
    )

    bob = token_for(people.bob)
    refused = bob.post("/requests", {"roles": [TARGET_ROLE], "reason": "x"})
    assert refused.status_code == 403 and refused.json()["code"] == "request_not_allowed"
    assert "may not request" in refused.json()["detail"]
    assert bob.get("/requests").json() == {"items": [], "next_cursor": None}
    hidden = bob.get(f"/requests/{item.pk}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "request_not_found"
    assert bob.get("/requests/not-a-uuid").status_code == 404
    outsider = token_for(people.outsider).post(
        f"/requests/{item.pk}/reviews", {"decision": "approve"}
    )
    assert outsider.status_code == 403 and outsider.json()["code"] == "review_not_allowed"
    assert token_for(people.operator).get(f"/requests/{item.pk}").status_code == 200  # staff


def test_bad_input_is_a_clear_4xx(people: People, token_for: Any) -> None:
    alice = token_for(people.alice)
    assert alice.post("/requests", {"roles": []}).status_code == 422
    long = alice.post("/requests", {"roles": [TARGET_ROLE], "duration": "200h"})
    assert long.status_code == 400 and "at most 8h" in long.json()["detail"]
    assert alice.post("/requests", raw="{not json").status_code in (400, 422)
    created = alice.post("/requests", {"roles": [TARGET_ROLE]}).json()
    wrong = token_for(people.rita).post(f"/requests/{created['id']}/reviews", {"decision": "yes"})
    assert wrong.status_code == 422


def test_self_review_is_refused_through_the_api(
    people: People, make_user: Any, token_for: Any
) -> None:
    from apps.access.services import role_create

    role_create(
        actor=None,
        name="lead",
        spec={"allow": {"request": {"roles": ["db-*"]}, "review_requests": {"roles": ["db-*"]}}},
    )
    lead = token_for(make_user("lead", roles=["lead"], is_staff=True))
    created = lead.post("/requests", {"roles": [TARGET_ROLE]}).json()
    for decision in ("approve", "deny"):
        response = lead.post(f"/requests/{created['id']}/reviews", {"decision": decision})
        assert response.status_code == 403
        assert "your own" in response.json()["detail"]
    assert AccessReview.objects.count() == 0
    assert lead.get(f"/requests/{created['id']}").json()["state"] == "pending"
