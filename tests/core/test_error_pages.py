"""403, 404 and 500 pages inside the layout, saying what happened and where to go (issue 24)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from apps.core.outage import server_error

pytestmark = pytest.mark.django_db


def test_403_is_styled_with_navigation(user_client: Any) -> None:
    for path in ("/audit/", "/manage/", "/manage/users/"):
        response = user_client.get(path)
        text = response.content.decode()
        assert response.status_code == 403, path
        assert 'class="topbar"' in text and 'aria-label="Main"' in text, path
        assert "You do not have access to this page" in text
        assert 'href="/requests/new/"' in text  # where to go: ask for access


def test_404_is_styled_for_everyone(user_client: Any) -> None:
    anonymous = Client().get("/no-such-page/").content.decode()
    assert "There is nothing at this address" in anonymous and 'class="topbar"' in anonymous
    assert 'aria-label="Main"' not in anonymous  # no navigation without a session
    signed_in = user_client.get("/no-such-page/")
    assert signed_in.status_code == 404
    assert 'aria-label="Main"' in signed_in.content.decode()


def test_500_is_styled_and_needs_no_request_context() -> None:
    request = RequestFactory().get("/boom/")
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = server_error(request)
    text = response.content.decode()
    assert response.status_code == 500
    assert "Rolegate could not complete this request" in text and 'class="topbar"' in text


def test_header_shows_the_cluster_name_once(user_client: Any, settings: Any) -> None:
    settings.ROLEGATE_CLUSTER_NAME = "rolegate"
    assert "<small>rolegate</small>" not in user_client.get("/").content.decode()
    settings.ROLEGATE_CLUSTER_NAME = "prod-eu"
    assert "Rolegate <small>prod-eu</small>" in user_client.get("/").content.decode()
