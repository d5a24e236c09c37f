"""Cursors that decode but do not fit the list (wrong types, numbers for strings) are a 400.

A cursor is opaque, but nothing stops a client from base64-encoding its own JSON: every list must
answer such a cursor like any other invalid one, never with a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from apps.api.pagination import CursorInvalid, page_list
from tests.api.test_admin_api import EVERY_CAPABILITY, token

pytestmark = pytest.mark.django_db

SCOPES = ["roles:read", "audit:read", "requests:review", "integrations:read"]


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [_cursor(["x", "y"]), _cursor([1, 2]), _cursor(["x", 2])])
def test_own_requests_refuse_a_cursor_that_is_not_a_time_and_an_id(
    make_user: Any, token_for: Any, cursor: str
) -> None:
    response = token_for(make_user("alice")).get(f"/requests?cursor={cursor}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "path",
    [
        f"/audit/events?cursor={_cursor(['not-a-number'])}",
        f"/audit/events?cursor={_cursor([1.5])}",
        f"/roles?cursor={_cursor(['a', 'b'])}",
        f"/integrations?cursor={_cursor([['nested']])}",
    ],
)
def test_admin_lists_refuse_a_cursor_of_the_wrong_shape(make_user: Any, path: str) -> None:
    admin = make_user("ops", is_staff=True, groups=EVERY_CAPABILITY)
    response = token(admin, SCOPES).get(path)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("cursor", [_cursor([1, 2]), _cursor(["a", 2])])
def test_a_list_page_refuses_numbers_where_its_keys_are_strings(cursor: str) -> None:
    items = [("2026-01-01", "a"), ("2026-01-02", "b")]
    with pytest.raises(CursorInvalid):
        page_list(items, key=lambda item: item, limit=10, cursor=cursor)


@pytest.mark.parametrize("path", ["/audit/events?since=c-x", "/audit/export?since=c-x"])
def test_a_since_that_is_no_stream_position_is_the_cursor_error(make_user: Any, path: str) -> None:
    """The stream cursor's error is a DomainError: the one handler answers it, export included."""
    admin = make_user("ops", is_staff=True, groups=EVERY_CAPABILITY)
    response = token(admin, SCOPES).get(path)
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": "since must be 'start', 'end' or a next_cursor of the stream.",
        "code": "invalid_cursor",
    }
