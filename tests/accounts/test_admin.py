"""The user admin validates roles and traits and audits every change."""

from __future__ import annotations

from typing import Any

import pytest

from apps.access.services import role_create
from apps.audit.models import AuditEvent


@pytest.fixture
def superuser_client(client: Any, make_user: Any) -> Any:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def change_form(user: Any, **overrides: str) -> dict[str, str]:
    data = {
        "username": user.username,
        "email": "",
        "first_name": "",
        "last_name": "",
        "is_active": "on",
        "roles": "[]",
        "traits": "{}",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    data.update(overrides)
    return data


def test_unknown_role_is_refused(superuser_client: Any, plain_user: Any) -> None:
    url = f"/admin/accounts/user/{plain_user.pk}/change/"
    response = superuser_client.post(url, change_form(plain_user, roles='["no-such-role"]'))
    assert response.status_code == 200
    assert b"no-such-role" in response.content
    plain_user.refresh_from_db()
    assert plain_user.roles == []
    assert not AuditEvent.objects.filter(event_type="user.updated").exists()


def test_bad_traits_are_refused(superuser_client: Any, plain_user: Any) -> None:
    url = f"/admin/accounts/user/{plain_user.pk}/change/"
    response = superuser_client.post(url, change_form(plain_user, traits='{"x": [1]}'))
    assert response.status_code == 200
    assert b"must be a list of strings" in response.content


def test_role_assignment_is_audited(superuser_client: Any, plain_user: Any) -> None:
    role_create(
        actor=None,
        name="readers",
        spec={
            "allow": {
                "app_labels": {"*": "*"},
                "aws_role_arns": ["arn:aws:iam::123456789012:role/R"],
            }
        },
    )
    url = f"/admin/accounts/user/{plain_user.pk}/change/"
    response = superuser_client.post(
        url, change_form(plain_user, roles='["readers"]', traits='{"team": "blue"}')
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plain_user.refresh_from_db()
    assert plain_user.roles == ["readers"]
    assert plain_user.traits == {"team": ["blue"]}
    event = AuditEvent.objects.get(event_type="user.updated", target_name="bob")
    assert event.actor_name == "root"
    assert event.details["before"]["roles"] == []
    assert event.details["after"]["roles"] == ["readers"]


def test_change_page_links_to_the_explainer(superuser_client: Any, plain_user: Any) -> None:
    page = superuser_client.get(f"/admin/accounts/user/{plain_user.pk}/change/").content.decode()
    assert "/manage/explain/?user=bob" in page
