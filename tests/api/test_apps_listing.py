"""GET /api/v1/apps: cursor pagination, the `q` filter, shared reachable sets, query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.access.services import role_create
from apps.accounts.models import User
from apps.integrations.models import Integration
from apps.resources.models import AwsApp
from apps.resources.naming import app_labels
from apps.resources.queries import app_catalog_forget

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"
READ_ONLY = f"arn:aws:iam::{ACCOUNT}:role/ReadOnly"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
ANCHOR = (
    f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/{'0' * 8}-0000-4000-8000-{'0' * 12}"
)


@pytest.fixture
def integration() -> Integration:
    return Integration.objects.create(
        name="aws-prod",
        trust_anchor_arn=ANCHOR,
        partition="aws",
        region="us-east-1",
        account_id=ACCOUNT,
    )


def _make_apps(integration: Integration, start: int, count: int, *, team: str) -> None:
    rows = []
    for n in range(start, start + count):
        profile_arn = (
            f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/{n:08d}-0000-4000-8000-000000000000"
        )
        rows.append(
            AwsApp(
                name=f"app-{n:05d}",
                integration=integration,
                profile_arn=profile_arn,
                profile_name=f"App{n:05d}",
                labels=app_labels(
                    tags={"team": team},
                    account_id=ACCOUNT,
                    integration_name="aws-prod",
                    profile_arn=profile_arn,
                ),
                account_id=ACCOUNT,
                region="us-east-1",
                partition="aws",
                role_arns=[READ_ONLY, ADMIN],
                console_url="https://console.aws.amazon.com/",
                last_confirmed_at=timezone.now(),
            )
        )
    AwsApp.objects.bulk_create(rows)


@pytest.fixture
def platform_user() -> User:
    role_create(
        actor=None,
        name="platform",
        spec={"allow": {"app_labels": {"aws/team": "platform"}, "aws_role_arns": [READ_ONLY]}},
    )
    return User.objects.create_user(username="carol", password="x", roles=["platform"])


def _pages(client: Any, query: str = "") -> list[dict[str, Any]]:
    pages = []
    cursor = ""
    while True:
        sep = "&" if query else ""
        response = client.get(f"/apps?{query}{sep}cursor={cursor}")
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body)
        if body["next_cursor"] is None:
            return pages
        cursor = body["next_cursor"]


def test_pages_cover_every_reachable_app_once_in_order(
    integration: Integration, platform_user: User, token_for: Any
) -> None:
    _make_apps(integration, 0, 130, team="platform")
    _make_apps(integration, 130, 40, team="data")  # not reachable
    client = token_for(platform_user)
    pages = _pages(client, "limit=50")
    assert [len(page["items"]) for page in pages] == [50, 50, 30]
    names = [item["name"] for page in pages for item in page["items"]]
    assert names == [f"app-{n:05d}" for n in range(130)]
    assert all(item["aws_role_arns"] == [READ_ONLY] for page in pages for item in page["items"])
    # The default page holds them all.
    whole = client.get("/apps").json()
    assert [item["name"] for item in whole["items"]] == names
    assert whole["next_cursor"] is None


def test_q_filters_before_paginating(
    integration: Integration, platform_user: User, token_for: Any
) -> None:
    _make_apps(integration, 0, 120, team="platform")
    client = token_for(platform_user)
    # app-00010..app-00019 and app-00100..app-00119 contain "app-0001" / "0010"/"0011".
    pages = _pages(client, "limit=7&q=APP-0001")
    names = [item["name"] for page in pages for item in page["items"]]
    assert names == [f"app-{n:05d}" for n in range(10, 20)]
    assert [len(page["items"]) for page in pages] == [7, 3]
    words = client.get("/apps?q=app-001%20ReadOnly").json()["items"]
    assert [item["name"] for item in words] == [f"app-{n:05d}" for n in range(100, 120)]
    assert client.get("/apps?q=nothing-matches").json() == {"items": [], "next_cursor": None}


def test_bad_paging_parameters_are_400(platform_user: User, token_for: Any) -> None:
    client = token_for(platform_user)
    for query, code in (
        ("limit=0", "bad_request"),
        ("limit=1001", "bad_request"),
        ("cursor=%25%25%25", "bad_cursor"),
        ("cursor=__8", "bad_cursor"),
    ):
        response = client.get(f"/apps?{query}")
        assert response.status_code == 400, (query, response.content)
        assert response.json()["code"] == code
    assert client.get("/apps?limit=abc").status_code == 422


def test_catalog_changes_show_up_on_the_next_page(
    integration: Integration, platform_user: User, token_for: Any
) -> None:
    _make_apps(integration, 0, 3, team="platform")
    client = token_for(platform_user)
    assert len(client.get("/apps").json()["items"]) == 3
    _make_apps(integration, 3, 2, team="platform")
    assert len(client.get("/apps").json()["items"]) == 5
    AwsApp.objects.filter(name="app-00000").update(labels={"aws/team": "data"})
    names = [item["name"] for item in client.get("/apps").json()["items"]]
    assert names == ["app-00001", "app-00002", "app-00003", "app-00004"]
    AwsApp.objects.filter(name="app-00001").delete()
    assert len(client.get("/apps").json()["items"]) == 3


def test_users_with_the_same_access_share_one_reachable_set(
    integration: Integration, platform_user: User, token_for: Any
) -> None:
    from apps.resources.queries import reachable_apps

    _make_apps(integration, 0, 10, team="platform")
    twin = User.objects.create_user(username="dave", password="x", roles=["platform"])
    other = User.objects.create_user(username="erin", password="x", roles=[])
    first = reachable_apps(platform_user)
    assert reachable_apps(twin) is first
    assert reachable_apps(other) is not first
    assert len(reachable_apps(other).rows) == 0
    _make_apps(integration, 10, 1, team="platform")
    assert reachable_apps(twin) is not first
    assert len(reachable_apps(twin).rows) == 11


def _count(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured.captured_queries)


def test_query_count_is_the_same_at_two_catalog_sizes(
    integration: Integration, platform_user: User, token_for: Any
) -> None:
    client = token_for(platform_user)
    client.get("/me")  # the token's first use records it: not part of the listing
    _make_apps(integration, 0, 5, team="platform")
    app_catalog_forget()
    small_cold = _count(client, "/apps?limit=2")
    small_warm = _count(client, "/apps?limit=2")
    _make_apps(integration, 5, 600, team="platform")
    _make_apps(integration, 605, 400, team="data")
    app_catalog_forget()
    large_cold = _count(client, "/apps?limit=2")
    large_warm = _count(client, "/apps?limit=2")
    assert large_cold == small_cold
    assert large_warm == small_warm
    # Warm: no catalog read at all (the version check, the token, the roles, the grants).
    assert small_warm == small_cold - 1
    assert _count(client, "/apps?limit=2&q=app-0060") == small_warm
