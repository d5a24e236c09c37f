"""Access request pages: three personas on every view, the web lifecycle, htmx, admin refusals."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.access.requests import services
from apps.access.requests.models import AccessRequest, AccessReview
from apps.audit.models import AuditEvent
from tests.requests.conftest import OTHER_TARGET, TARGET_ROLE, People

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user: Any | None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def csrf(client: Client, url: str = "/requests/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    token: str = response.cookies["csrftoken"].value
    return token


def post(client: Client, url: str, data: dict[str, Any], **extra: Any) -> Any:
    data = {**data, "csrfmiddlewaretoken": csrf(client)}
    return client.post(url, data, **extra)


def pending(people: People, roles: list[str] | None = None) -> AccessRequest:
    return services.access_request_create(
        actor=people.alice, roles=roles or [TARGET_ROLE], reason="because"
    )


# --- personas on every view --------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_everywhere(people: People) -> None:
    item = pending(people)
    anonymous = Client()
    for url in (
        "/requests/",
        "/requests/new/",
        "/requests/review/",
        "/requests/history/",
        f"/requests/{item.pk}/",
    ):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    for url in (f"/requests/{item.pk}/review/", f"/requests/{item.pk}/end/", "/requests/new/"):
        response = anonymous.post(url, {"decision": "approve"})
        assert response.status_code == 302 and "/login" in response["Location"], url
        htmx = anonymous.post(url, {"decision": "approve"}, **HTMX)
        assert htmx.status_code == 401 and "/login" in htmx["HX-Redirect"], url
    assert AccessReview.objects.count() == 0


def test_request_list_for_requester_and_for_a_user_without_request_rights(people: People) -> None:
    item = pending(people)
    page = client_for(people.alice).get("/requests/")
    assert page.status_code == 200
    assert item.short_id in page.content.decode() and "Request access" in page.content.decode()
    empty = client_for(people.bob).get("/requests/")
    assert empty.status_code == 200
    text = empty.content.decode()
    assert item.short_id not in text and "None of your roles lets you request" in text


def test_create_page_personas(people: People) -> None:
    form = client_for(people.alice).get(f"/requests/new/?roles={TARGET_ROLE},nope&app=db-prod")
    assert form.status_code == 200
    text = form.content.decode()
    assert f'value="{TARGET_ROLE}"' in text and "checked" in text and "db-prod" in text
    assert 'value="nope"' not in text
    refused = client_for(people.bob).get("/requests/new/")
    assert refused.status_code == 200
    assert "None of your roles lets you request" in refused.content.decode()


def test_review_queue_personas(people: People) -> None:
    item = pending(people)
    assert item.short_id in client_for(people.rita).get("/requests/review/").content.decode()
    for user in (people.outsider, people.alice, people.bob):
        response = client_for(user).get("/requests/review/")
        assert response.status_code == 200
        assert item.short_id not in response.content.decode()


def test_detail_personas(people: People) -> None:
    item = pending(people)
    url = f"/requests/{item.pk}/"
    reviewer = client_for(people.rita).get(url)
    assert reviewer.status_code == 200 and 'value="approve"' in reviewer.content.decode()
    own = client_for(people.alice).get(url)
    assert own.status_code == 200
    assert 'value="approve"' not in own.content.decode()
    assert "cannot review your own" in own.content.decode()
    staff = client_for(people.operator).get(url)
    assert staff.status_code == 200 and 'value="approve"' not in staff.content.decode()
    for user in (people.outsider, people.bob):
        assert client_for(user).get(url).status_code == 404
    assert (
        client_for(people.rita).get("/requests/00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )


def test_history_is_staff_only(people: People, django_assert_max_num_queries: Any) -> None:
    pending(people)
    pending(people, [OTHER_TARGET])
    staff = client_for(people.operator)
    # Two of these are the capability check (the user's and the group's permissions).
    with django_assert_max_num_queries(10):
        page = staff.get("/requests/history/?user=alice")
    assert page.status_code == 200 and page.content.decode().count("<code>") >= 2
    assert (
        "No access request matches" in staff.get("/requests/history/?user=nobody").content.decode()
    )
    assert staff.get("/requests/history/?state=bogus").status_code == 200
    for user in (people.alice, people.rita):
        assert client_for(user).get("/requests/history/").status_code == 403


def test_list_pages_keep_a_constant_query_count(people: People) -> None:
    def count(client: Client, url: str) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    rita = client_for(people.rita)
    alice = client_for(people.alice)
    pending(people)
    count(alice, "/requests/"), count(rita, "/requests/review/")  # warm the role cache
    one = (count(alice, "/requests/"), count(rita, "/requests/review/"))
    for _ in range(5):
        item = pending(people, [OTHER_TARGET])
        services.access_request_review(actor=people.ray, request_id=item.pk, decision="deny")
        pending(people)
    assert (count(alice, "/requests/"), count(rita, "/requests/review/")) == one


# --- the lifecycle through the web -------------------------------------------------------------


def test_web_lifecycle_request_review_end(people: People) -> None:
    alice = client_for(people.alice)
    response = post(
        alice, "/requests/new/", {"roles": [TARGET_ROLE], "reason": "fix", "duration": "2h"}
    )
    assert response.status_code == 302
    item = AccessRequest.objects.get()
    assert response["Location"] == f"/requests/{item.pk}/"

    rita = client_for(people.rita)
    reviewed = post(rita, f"/requests/{item.pk}/review/", {"decision": "approve", "comment": "go"})
    assert reviewed.status_code == 302
    item.refresh_from_db()
    assert item.state == AccessRequest.State.APPROVED
    detail = alice.get(f"/requests/{item.pk}/").content.decode()
    assert "End this access now" in detail and "go" in detail

    ended = post(alice, f"/requests/{item.pk}/end/", {}, **HTMX)
    assert ended.status_code == 200 and "Access ended" in ended.content.decode()
    item.refresh_from_db()
    assert item.state == AccessRequest.State.ENDED
    # A reviewer is not the requester nor staff: ending is not theirs to do.
    assert post(rita, f"/requests/{item.pk}/end/", {}).status_code == 404


def test_htmx_review_answers_with_the_panel(people: People) -> None:
    item = pending(people)
    response = post(
        client_for(people.rita), f"/requests/{item.pk}/review/", {"decision": "deny"}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "access-request-reviewed"
    text = response.content.decode()
    assert text.lstrip().startswith('<section class="card" id="request-panel">')
    assert "Denied" in text
    again = post(
        client_for(people.ray), f"/requests/{item.pk}/review/", {"decision": "approve"}, **HTMX
    )
    assert again.status_code == 409 and "already denied" in again.content.decode()


def test_htmx_create_errors_render_the_form(people: People) -> None:
    people.set_policy(reason={"mode": "required"}, max_duration="1h")
    alice = client_for(people.alice)
    missing = post(alice, "/requests/new/", {"roles": [TARGET_ROLE], "reason": ""}, **HTMX)
    assert missing.status_code == 400 and "require a reason" in missing.content.decode()
    assert missing.content.decode().lstrip().startswith('<div id="request-form">')
    too_long = post(
        alice, "/requests/new/", {"roles": [TARGET_ROLE], "reason": "r", "duration": "2h"}
    )
    assert too_long.status_code == 400 and "at most 1h" in too_long.content.decode()
    bad = post(
        alice, "/requests/new/", {"roles": [TARGET_ROLE], "reason": "r", "duration": "2 days"}
    )
    assert bad.status_code == 400 and "not a duration" in bad.content.decode()
    ok = post(alice, "/requests/new/", {"roles": [TARGET_ROLE], "reason": "r"}, **HTMX)
    assert ok.status_code == 204 and ok["HX-Redirect"].startswith("/requests/")


def test_unrequestable_role_is_403(people: People) -> None:
    for user, role in ((people.alice, "approver"), (people.bob, TARGET_ROLE)):
        response = post(client_for(user), "/requests/new/", {"roles": [role], "reason": "r"})
        assert response.status_code == 403
        assert "may not request" in response.content.decode()
    assert AccessRequest.objects.count() == 0


def test_reviewer_outside_review_requests_is_403(people: People) -> None:
    item = pending(people)
    for user in (people.outsider, people.bob, people.operator):
        response = post(client_for(user), f"/requests/{item.pk}/review/", {"decision": "approve"})
        assert response.status_code == 403, user
        htmx = post(
            client_for(user), f"/requests/{item.pk}/review/", {"decision": "approve"}, **HTMX
        )
        assert htmx.status_code == 403
    assert AccessReview.objects.count() == 0
    item.refresh_from_db()
    assert item.state == AccessRequest.State.PENDING


def test_state_changes_need_post_and_csrf(people: People) -> None:
    item = pending(people)
    rita = client_for(people.rita)
    assert rita.get(f"/requests/{item.pk}/review/").status_code == 405
    assert rita.get(f"/requests/{item.pk}/end/").status_code == 405
    no_token = rita.post(f"/requests/{item.pk}/review/", {"decision": "approve"})
    assert no_token.status_code == 403
    assert AccessReview.objects.count() == 0


# --- self-review on every web path -------------------------------------------------------------


def test_self_review_is_refused_on_web_htmx_and_admin(people: People, make_user: Any) -> None:
    from apps.access.services import role_create

    role_create(
        actor=None,
        name="lead",
        spec={"allow": {"request": {"roles": ["db-*"]}, "review_requests": {"roles": ["db-*"]}}},
    )
    lead = make_user("lead", roles=["lead"], is_staff=True, is_superuser=True)
    item = services.access_request_create(actor=lead, roles=[TARGET_ROLE])
    client = client_for(lead)
    detail = client.get(f"/requests/{item.pk}/").content.decode()
    assert 'value="approve"' not in detail
    for extra in ({}, HTMX):
        for decision in ("approve", "deny"):
            response = post(client, f"/requests/{item.pk}/review/", {"decision": decision}, **extra)
            assert response.status_code == 403
            assert "cannot review your own" in response.content.decode()
    # The admin is read-only, even for a superuser: no change form, no add form, no delete.
    admin = Client()
    admin.force_login(lead)
    change_url = reverse("admin:access_accessrequest_change", args=[item.pk])
    view = admin.get(change_url)
    assert view.status_code == 200 and "Save" not in view.content.decode()
    assert admin.post(change_url, {"state": "approved"}).status_code == 403
    assert admin.get(reverse("admin:access_accessreview_add")).status_code == 403
    assert (
        admin.post(
            reverse("admin:access_accessrequest_delete", args=[item.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    item.refresh_from_db()
    assert item.state == AccessRequest.State.PENDING
    assert AccessReview.objects.count() == 0
    refused = AuditEvent.objects.filter(event_type="access_request.reviewed", outcome="denied")
    assert refused.count() == 4 and {e.actor_name for e in refused} == {"lead"}
