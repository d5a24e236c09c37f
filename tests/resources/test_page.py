"""The Resources page and the launch dialog: personas, search, chips, pins, pagination, queries."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.access.services import role_create
from apps.accounts.models import User
from apps.integrations.models import Integration
from apps.resources.models import AwsApp
from apps.resources.models_user import AppUserState
from apps.resources.naming import app_labels
from apps.resources.queries import app_catalog_forget

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"
READ_ONLY = f"arn:aws:iam::{ACCOUNT}:role/ReadOnly"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/ops/Admin"
ANCHOR = (
    f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/"
    + "0" * 8
    + "-0000-4000-8000-"
    + "0" * 12
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


@pytest.fixture
def make_apps(integration: Integration) -> Callable[..., list[AwsApp]]:
    """Create synced-looking apps: make_apps(3, team="data") → apps app-000.. with that tag."""
    counter = {"n": 0}

    def make(count: int, *, team: str = "platform", env: str = "prod") -> list[AwsApp]:
        rows = []
        for _ in range(count):
            n = counter["n"]
            counter["n"] += 1
            profile_arn = (
                f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/"
                f"{n:08d}-0000-4000-8000-000000000000"
            )
            rows.append(
                AwsApp(
                    name=f"app-{n:03d}-aws-prod",
                    integration=integration,
                    profile_arn=profile_arn,
                    profile_name=f"App{n:03d}",
                    labels=app_labels(
                        tags={"team": team, "env": env},
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
        return AwsApp.objects.bulk_create(rows)

    return make


@pytest.fixture
def alice() -> User:
    role_create(
        actor=None,
        name="platform-read-only",
        spec={"allow": {"app_labels": {"aws/team": "platform"}, "aws_role_arns": [READ_ONLY]}},
    )
    user = User.objects.create_user(username="alice", password="x", roles=["platform-read-only"])
    return user


@pytest.fixture
def bob() -> User:
    return User.objects.create_user(username="bob", password="x")


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _names(response: Any) -> list[str]:
    return re.findall(r"<strong>(app-\d+-aws-prod)</strong>", response.content.decode())


# --- personas on every view -------------------------------------------------------------------


def test_resources_page_personas(make_apps: Any, alice: User, bob: User) -> None:
    make_apps(2)
    make_apps(1, team="data")
    allowed = _client(alice).get("/")
    assert allowed.status_code == 200
    assert _names(allowed) == ["app-000-aws-prod", "app-001-aws-prod"]
    body = allowed.content.decode()
    assert "ReadOnly" in body and READ_ONLY in body
    assert ADMIN not in body  # listed by the profile, but not allowed to alice

    refused = _client(bob).get("/")
    assert refused.status_code == 200
    assert _names(refused) == []
    assert "You do not have access to any AWS app yet" in refused.content.decode()
    assert 'href="/requests/"' in refused.content.decode()

    anonymous = _client(None).get("/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


def test_launch_dialog_personas(make_apps: Any, alice: User, bob: User) -> None:
    [app, *_] = make_apps(1)
    url = f"/apps/{app.name}/launch"
    allowed = _client(alice).get(url)
    assert allowed.status_code == 200
    assert f'<option value="{READ_ONLY}" selected>' in allowed.content.decode()
    assert ADMIN not in allowed.content.decode()

    refused = _client(bob).get(url)
    missing = _client(bob).get("/apps/nope-aws-prod/launch")
    # 404, as the API answers the same refusal (AppNotFound): never confirms what exists.
    assert refused.status_code == missing.status_code == 404
    assert "not found, or you are not allowed" in refused.content.decode()
    assert app.profile_arn not in refused.content.decode()

    anonymous = _client(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    anonymous_post = _client(None).post(url, {"role": READ_ONLY})
    assert anonymous_post.status_code == 302
    assert anonymous_post["Location"].startswith("/accounts/login/")
    htmx_anonymous = _client(None).get(url, HTTP_HX_REQUEST="true")
    assert htmx_anonymous.status_code == 401
    assert htmx_anonymous["HX-Redirect"].startswith("/accounts/login/")


def test_pin_personas(make_apps: Any, alice: User, bob: User) -> None:
    [first, second] = make_apps(2)
    allowed = _client(alice).post(f"/apps/{second.name}/pin", {"pinned": "1"})
    assert allowed.status_code == 302
    assert AppUserState.objects.get(user=alice, app_name=second.name).pinned
    assert _names(_client(alice).get("/")) == [second.name, first.name]

    refused = _client(bob).post(f"/apps/{second.name}/pin", {"pinned": "1"})
    assert refused.status_code == 404
    assert not AppUserState.objects.filter(user=bob).exists()

    anonymous = _client(None).post(f"/apps/{second.name}/pin", {"pinned": "1"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")

    unpinned = _client(alice).post(
        f"/apps/{second.name}/pin", {"pinned": "0", "q": "app-001"}, HTTP_HX_REQUEST="true"
    )
    assert unpinned.status_code == 200
    assert _names(unpinned) == [second.name]  # the fragment keeps the page's filters
    assert not AppUserState.objects.get(user=alice, app_name=second.name).pinned


# --- listing behaviour ------------------------------------------------------------------------


def test_pinned_first_then_recently_launched(make_apps: Any, alice: User) -> None:
    apps = make_apps(4)
    now = timezone.now()
    AppUserState.objects.create(
        user=alice, app_name=apps[1].name, last_launched_at=now - timedelta(hours=2)
    )
    AppUserState.objects.create(user=alice, app_name=apps[3].name, last_launched_at=now)
    AppUserState.objects.create(user=alice, app_name=apps[2].name, pinned=True)
    assert _names(_client(alice).get("/")) == [
        apps[2].name,
        apps[3].name,
        apps[1].name,
        apps[0].name,
    ]


def test_search_matches_name_label_account_and_arn(make_apps: Any, alice: User) -> None:
    role_create(
        actor=None,
        name="everything",
        spec={"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ_ONLY]}},
    )
    alice.roles = ["everything"]
    alice.save()
    make_apps(2)
    [data_app] = make_apps(1, team="data", env="dev")
    client = _client(alice)
    assert _names(client.get("/", {"q": "APP-002"})) == [data_app.name]
    assert _names(client.get("/", {"q": "team=data"})) == [data_app.name]
    assert _names(client.get("/", {"q": "env=dev team=data"})) == [data_app.name]
    assert len(_names(client.get("/", {"q": ACCOUNT}))) == 3
    assert _names(client.get("/", {"q": data_app.profile_arn})) == [data_app.name]
    assert len(_names(client.get("/", {"q": "role/ReadOnly"}))) == 3
    nothing = client.get("/", {"q": "no-such-thing"})
    assert _names(nothing) == []
    assert "No app matches" in nothing.content.decode()
    fragment = client.get("/", {"q": "app-002"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert _names(fragment) == [data_app.name]


def test_label_chips_filter(make_apps: Any, alice: User) -> None:
    role_create(
        actor=None,
        name="everything",
        spec={"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ_ONLY]}},
    )
    alice.roles = ["everything"]
    alice.save()
    make_apps(2)
    [data_app] = make_apps(1, team="data")
    client = _client(alice)
    page = client.get("/").content.decode()
    assert "aws/team=data" in page
    assert (
        "rolegate.dev/aws-roles-anywhere-profile-arn="
        not in page.split('id="app-list"')[1].split("<table")[0]
    )
    filtered = client.get("/", {"label": "aws/team=data"})
    assert _names(filtered) == [data_app.name]
    # The active chip links back to the unfiltered list.
    assert 'aria-pressed="true"' in filtered.content.decode()
    fragment = client.get("/", {"label": "aws/team=data"}, HTTP_HX_REQUEST="true")
    assert 'hx-swap-oob="true"' in fragment.content.decode()
    assert 'name="label" value="aws/team=data"' in fragment.content.decode()
    assert _names(client.get("/", {"label": ["aws/team=data", "aws/env=dev"]})) == []
    assert len(_names(client.get("/", {"label": "garbage-without-equals"}))) == 3


def test_pagination(make_apps: Any, alice: User) -> None:
    make_apps(30)
    client = _client(alice)
    first = client.get("/")
    assert len(_names(first)) == 25
    assert "Page 1 of 2 (30 apps)" in first.content.decode()
    second = client.get("/", {"page": "2"})
    assert _names(second) == [f"app-{n:03d}-aws-prod" for n in range(25, 30)]
    assert len(_names(client.get("/", {"page": "nonsense"}))) == 25


def test_empty_state_without_integration(alice: User) -> None:
    staff = User.objects.create_user(username="operator", password="x", is_staff=True)
    staff_page = _client(staff).get("/").content.decode()
    assert "No AWS account is connected yet" in staff_page
    assert 'href="/manage/integrations/enroll/"' in staff_page
    user_page = _client(alice).get("/").content.decode()
    assert "No AWS account is connected yet" in user_page
    assert "/manage/integrations/enroll/" not in user_page


def test_query_count_does_not_grow_with_apps(
    make_apps: Any, alice: User, django_assert_num_queries: Any
) -> None:
    make_apps(3)
    client = _client(alice)
    AppUserState.objects.create(user=alice, app_name="app-000-aws-prod", pinned=True)
    client.get("/")  # the first request of a session also writes the session
    counts = {}
    for state in ("cold", "warm"):
        if state == "cold":
            app_catalog_forget()
        with CaptureQueriesContext(connection) as few:
            assert client.get("/").status_code == 200
        counts[state] = len(few.captured_queries)
    assert counts["warm"] == counts["cold"] - 1  # the cached catalog skips one SELECT

    make_apps(60)
    make_apps(40, team="data")
    app_catalog_forget()
    with django_assert_num_queries(counts["cold"]):
        response = client.get("/")
    assert "(63 apps)" in response.content.decode()
    with django_assert_num_queries(counts["warm"]):
        response = client.get("/")
    assert response.status_code == 200
    assert "(63 apps)" in response.content.decode()


def test_catalog_cache_sees_every_change(make_apps: Any, alice: User) -> None:
    [first, second] = make_apps(2)
    client = _client(alice)
    assert len(_names(client.get("/"))) == 2
    AwsApp.objects.filter(pk=first.pk).delete()
    assert _names(client.get("/")) == [second.name]
    [third] = make_apps(1)
    assert _names(client.get("/")) == [second.name, third.name]
    second.labels = {**second.labels, "aws/team": "data"}
    second.save()  # the sync bumps updated_at the same way
    assert _names(client.get("/")) == [third.name]


def test_deep_link_prefills_the_dialog(make_apps: Any, alice: User) -> None:
    role_create(
        actor=None,
        name="admins",
        spec={"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ_ONLY, ADMIN]}},
    )
    alice.roles = ["admins"]
    alice.save()
    [app] = make_apps(1)
    response = _client(alice).get(
        f"/apps/{app.name}/launch",
        {"role": "Admin", "region": "eu-west-1", "destination": "/s3/home"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{ADMIN}" selected>' in body
    assert '<option value="eu-west-1" selected>' in body
    assert '<input type="hidden" name="destination" value="/s3/home">' in body

    bad = _client(alice).get(
        f"/apps/{app.name}/launch",
        {"role": "arn:aws:iam::999999999999:role/Admin", "destination": "https://evil.example"},
    )
    body = bad.content.decode()
    assert bad.status_code == 200
    assert "which you may not assume here" in body
    assert "console path" in body
    assert 'evil.example">' not in body
    assert 'name="destination"' not in body

    fragment = _client(alice).get(f"/apps/{app.name}/launch", HTTP_HX_REQUEST="true")
    assert "<html" not in fragment.content.decode()
    assert 'hx-post="/apps/' in fragment.content.decode()
