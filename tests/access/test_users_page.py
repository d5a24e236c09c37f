"""The portal's Users page and its write module apps/access/user_admin.py (issue 24, item 3)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from apps.access.services import role_create
from apps.access.user_admin import (
    UserChangeInvalid,
    clean_traits,
    set_user_roles,
    set_user_traits,
)
from apps.accounts.models import User
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SPEC = {"allow": {"app_labels": {"env": "dev"}}}


@pytest.fixture
def roles() -> list[str]:
    for name in ("dev-read", "ops-admin"):
        role_create(actor=None, name=name, spec=SPEC)
    return ["dev-read", "ops-admin"]


@pytest.fixture
def access_admin(make_user: Any) -> Any:
    return make_user("ada", is_staff=True, groups=["access admin"])


def test_set_user_roles_audits_a_diff(access_admin: Any, plain_user: Any, roles: list[str]) -> None:
    set_user_roles(access_admin, plain_user, ["ops-admin", "dev-read", "dev-read"])
    plain_user.refresh_from_db()
    assert plain_user.roles == ["dev-read", "ops-admin"]
    event = AuditEvent.objects.get(event_type="user.updated", target_name="bob")
    assert event.actor_name == "ada"
    assert event.details["field"] == "roles"
    assert event.details["before"] == [] and event.details["after"] == ["dev-read", "ops-admin"]
    assert event.details["added"] == ["dev-read", "ops-admin"] and event.details["removed"] == []

    set_user_roles(access_admin, plain_user, ["dev-read"])
    last = AuditEvent.objects.filter(event_type="user.updated").order_by("-id").first()
    assert last is not None and last.details["removed"] == ["ops-admin"]
    # No change: nothing written, nothing audited.
    count = AuditEvent.objects.filter(event_type="user.updated").count()
    set_user_roles(access_admin, plain_user, ["dev-read"])
    assert AuditEvent.objects.filter(event_type="user.updated").count() == count


def test_set_user_roles_refuses(access_admin: Any, plain_user: Any, roles: list[str]) -> None:
    with pytest.raises(UserChangeInvalid) as error:
        set_user_roles(access_admin, plain_user, ["no-such-role"])
    assert "no-such-role" in error.value.message
    with pytest.raises(PermissionDenied):
        set_user_roles(access_admin, access_admin, ["ops-admin"])  # not their own
    with pytest.raises(PermissionDenied):
        set_user_roles(plain_user, access_admin, ["ops-admin"])  # no capability
    assert User.objects.get(username="ada").roles == []
    assert not AuditEvent.objects.filter(event_type="user.updated").exists()


def test_traits_validation_and_diff(access_admin: Any, plain_user: Any) -> None:
    assert clean_traits({"team": "a", "logins": [" x ", "x", "", "y"], "empty": []}) == {
        "logins": ["x", "y"],
        "team": ["a"],
    }
    for bad in ({"bad name": ["a"]}, {"": ["a"]}, {"ok": [1]}, {"ok": ["x" * 2000]}):
        with pytest.raises(UserChangeInvalid):
            clean_traits(bad)
    set_user_traits(access_admin, plain_user, {"team": ["platform"]})
    set_user_traits(access_admin, plain_user, {"team": ["platform", "sre"], "env": ["dev"]})
    plain_user.refresh_from_db()
    assert plain_user.traits == {"env": ["dev"], "team": ["platform", "sre"]}
    last = AuditEvent.objects.filter(event_type="user.updated").order_by("-id").first()
    assert last is not None
    assert last.details["field"] == "traits"
    assert last.details["added"] == ["env"] and last.details["changed"] == ["team"]
    assert last.details["before"] == {"team": ["platform"]}


def test_users_page_list_search_and_assign(
    client: Any, access_admin: Any, plain_user: Any, roles: list[str]
) -> None:
    client.force_login(access_admin)
    page = client.get("/manage/users/?q=bo")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-user="bob"' in text and 'data-user="ada"' not in text

    detail = client.get("/manage/users/bob/").content.decode()
    assert 'name="roles" value="dev-read"' in detail and "Effective access" in detail

    response = client.post("/manage/users/bob/roles/", {"roles": ["dev-read"]}, **HTMX)
    assert response.status_code == 200
    assert "Roles of bob saved." in response.content.decode()
    assert User.objects.get(username="bob").roles == ["dev-read"]

    # A refused change is answered 400 with the reason in the panel htmx swaps in.
    refused = client.post("/manage/users/bob/roles/", {"roles": ["ghost"]}, **HTMX)
    assert refused.status_code == 400
    assert 'id="roles-panel"' in refused.content.decode()
    assert "ghost" in refused.content.decode()
    assert User.objects.get(username="bob").roles == ["dev-read"]

    traits = client.post(
        "/manage/users/bob/traits/",
        {"trait_name": ["team", "bad name", ""], "trait_values": ["a\nb", "x", ""]},
        **HTMX,
    )
    assert traits.status_code == 400
    assert "Trait name &#x27;bad name&#x27;" in traits.content.decode()
    saved = client.post(
        "/manage/users/bob/traits/",
        {"trait_name": ["team", ""], "trait_values": ["a, b", ""]},
    )
    assert saved.status_code == 302 and saved["Location"] == "/manage/users/bob/"
    assert User.objects.get(username="bob").traits == {"team": ["a", "b"]}


def test_users_page_own_account_is_read_only(client: Any, access_admin: Any) -> None:
    client.force_login(access_admin)
    page = client.get("/manage/users/ada/").content.decode()
    assert "This is your own account" in page
    response = client.post("/manage/users/ada/traits/", {"trait_name": "x", "trait_values": "y"})
    assert response.status_code == 403
    assert User.objects.get(username="ada").traits == {}


def test_unknown_user_is_a_styled_404(client: Any, access_admin: Any) -> None:
    client.force_login(access_admin)
    response = client.get("/manage/users/nobody/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "There is nothing at this address" in text and 'class="topbar"' in text
