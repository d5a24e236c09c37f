"""Every wizard view, for the three personas: staff allowed, a plain user refused, anonymous
sent to the login page (htmx requests get 401 with HX-Redirect). Also: state changes are POST
with CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from apps.core.policies import policy_of
from apps.integrations.enrollment import urls as wizard_urls

pytestmark = pytest.mark.django_db

ARGS = {"done": ["aws-x"], "progress": ["aws-x"]}
POST_ONLY = {"reset", "name_check", "preview"}
GET_ONLY = {"start", "script", "template", "done", "progress"}


def routes() -> list[tuple[str, str]]:
    """(url name, method) for every wizard URL and every method it accepts."""
    result: list[tuple[str, str]] = []
    for pattern in wizard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        name = str(pattern.name)
        methods = (
            ["POST"] if name in POST_ONLY else ["GET"] if name in GET_ONLY else ["GET", "POST"]
        )
        result.extend((name, method) for method in methods)
    return result


def url_of(name: str) -> str:
    return reverse(f"integrations:enroll:{name}", args=ARGS.get(name, []))


def request(client: Client, name: str, method: str, **extra: Any) -> Any:
    url = url_of(name)
    if method == "GET":
        return client.get(url, **extra)
    return client.post(url, {"action": "next"}, **extra)


def test_every_view_is_staff_only_by_policy() -> None:
    for pattern in wizard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        assert policy_of(pattern.callback) == "capability:integration_admin", pattern.name


@pytest.mark.parametrize(("name", "method"), routes())
def test_anonymous_is_sent_to_login(client: Client, name: str, method: str) -> None:
    response = request(client, name, method)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    htmx = request(client, name, method, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 401 and htmx["HX-Redirect"].startswith("/accounts/login/")


@pytest.mark.parametrize(("name", "method"), routes())
def test_plain_user_is_refused(user_client: Client, name: str, method: str) -> None:
    assert request(user_client, name, method).status_code == 403


# What each view answers a signed-in operator who has not started the wizard: a redirect to the
# first step, the page itself, a 400 for the empty name form, a 409 for a step taken out of
# order, or a 404 for the unknown integration. Never a refusal, never an error.
STAFF_ANSWERS = {
    ("start", "GET"): 302,
    ("reset", "POST"): 302,
    ("name", "GET"): 200,
    ("name", "POST"): 400,
    ("name_check", "POST"): 200,
    ("setup", "GET"): 302,
    ("setup", "POST"): 409,
    ("script", "GET"): 409,
    ("template", "GET"): 409,
    ("connect", "GET"): 302,
    ("connect", "POST"): 409,
    ("profiles", "GET"): 302,
    ("profiles", "POST"): 409,
    ("preview", "POST"): 409,
    ("done", "GET"): 404,
    ("progress", "GET"): 404,
}


def test_every_route_has_an_expected_staff_answer() -> None:
    assert set(routes()) == set(STAFF_ANSWERS)


@pytest.mark.parametrize(("name", "method"), routes())
def test_staff_is_let_in(staff_client: Client, name: str, method: str) -> None:
    response = request(staff_client, name, method)
    assert response.status_code == STAFF_ANSWERS[(name, method)], response.status_code
    if response.status_code == 302:
        assert response["Location"] == "/manage/integrations/enroll/name/"


@pytest.mark.parametrize(("name", "method"), [r for r in routes() if r[1] == "POST"])
def test_state_changes_need_csrf(staff_user: Any, name: str, method: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = request(client, name, method)
    assert response.status_code == 403 and b"CSRF" in response.content


@pytest.mark.parametrize("name", sorted(GET_ONLY))
def test_get_only_views_refuse_post(staff_client: Client, name: str) -> None:
    assert staff_client.post(url_of(name)).status_code == 405


@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_post_only_views_refuse_get(staff_client: Client, name: str) -> None:
    assert staff_client.get(url_of(name)).status_code == 405
