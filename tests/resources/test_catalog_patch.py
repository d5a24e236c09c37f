"""After a catalog change the cached catalog and reachable sets are patched, not rebuilt, and the
patched result equals a rebuild from scratch (PostgreSQL; migration 0004's change numbers).

Every check compares `reachable_apps` after a change with a reachable set computed afresh from
the database for the same user (`_fresh`), for several users whose access differs, and checks
through the statements run that the patch path, not a full re-read, produced it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.access import selectors as access
from apps.access.services import role_create
from apps.accounts.models import User
from apps.integrations.models import Integration
from apps.resources.models import AwsApp, CatalogChange
from apps.resources.naming import app_labels
from apps.resources.queries import Reachable, app_catalog_forget, catalog_version, reachable_apps
from apps.resources.queries import catalog as catalog_cache
from apps.resources.queries import reachable as reachable_sets

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="change numbers: PostgreSQL"),
]

ACCOUNT = "123456789012"
READ = f"arn:aws:iam::{ACCOUNT}:role/Read"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
ANCHOR = (
    f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/{'0' * 8}-0000-4000-8000-{'0' * 12}"
)


def _full_reads(sqls: list[str]) -> list[str]:
    """The statements that read the whole app table (the patch reads only changed rows)."""
    return [sql for sql in sqls if '"resources_awsapp"' in sql and "catalog_seq >" not in sql]


@pytest.fixture(autouse=True)
def _cold() -> Iterator[None]:
    app_catalog_forget()
    yield
    app_catalog_forget()


@pytest.fixture
def integration() -> Integration:
    return Integration.objects.create(
        name="aws-prod",
        trust_anchor_arn=ANCHOR,
        partition="aws",
        region="us-east-1",
        account_id=ACCOUNT,
    )


def _app(integration: Integration, n: int, *, team: str, env: str = "prod") -> AwsApp:
    profile_arn = f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/{n:08d}-0000-4000-8000-0000"
    return AwsApp(
        name=f"app-{n:04d}",
        integration=integration,
        profile_arn=profile_arn,
        profile_name=f"App{n:04d}",
        labels=app_labels(
            tags={"team": team, "env": env},
            account_id=ACCOUNT,
            integration_name="aws-prod",
            profile_arn=profile_arn,
        ),
        account_id=ACCOUNT,
        region="us-east-1",
        partition="aws",
        role_arns=[READ, ADMIN],
        console_url="https://console.aws.amazon.com/",
        last_confirmed_at=timezone.now(),
    )


@pytest.fixture
def users() -> list[User]:
    """Four users whose reachable sets differ: by team, with a deny on stage, everything."""
    role_create(
        actor=None,
        name="platform",
        spec={"allow": {"app_labels": {"aws/team": "platform"}, "aws_role_arns": [READ]}},
    )
    role_create(
        actor=None,
        name="data-no-stage",
        spec={
            "allow": {"app_labels": {"aws/team": "data"}, "aws_role_arns": [READ, ADMIN]},
            "deny": {"app_labels": {"aws/env": "stage"}, "aws_role_arns": ["*"]},
        },
    )
    role_create(
        actor=None,
        name="everything",
        spec={"allow": {"app_labels": {"*": "*"}, "aws_role_arns": [READ, ADMIN]}},
    )
    return [
        User.objects.create_user(username="pat", password="x", roles=["platform"]),
        User.objects.create_user(username="dana", password="x", roles=["data-no-stage"]),
        User.objects.create_user(username="eve", password="x", roles=["everything"]),
        User.objects.create_user(username="nobody", password="x", roles=[]),
    ]


@pytest.fixture
def catalog(integration: Integration) -> list[AwsApp]:
    teams = ("platform", "data", "web")
    envs = ("prod", "dev", "stage")
    return AwsApp.objects.bulk_create(
        [_app(integration, n, team=teams[n % 3], env=envs[n // 3 % 3]) for n in range(40)]
    )


def _fresh(user: User) -> Reachable:
    """The user's reachable set computed from scratch: the whole catalog read again."""
    version, seq = catalog_cache._catalog_state()
    catalog = catalog_cache._load_catalog(version, seq, generation=-1)
    return reachable_sets._build_reachable(access.user_access(user), catalog)


def _shape(reachable: Reachable) -> dict[str, Any]:
    return {
        "rows": [(app, arns) for app, arns in reachable.rows],
        "positions": reachable.positions,
        "chips": reachable.chip_counts,
        "size": reachable.catalog_size,
        "search": list(reachable.search_texts()),
    }


def _patched(user: User) -> Reachable:
    """`reachable_apps` after a change, asserting it patched rather than re-read everything."""
    with CaptureQueriesContext(connection) as captured:
        reachable = reachable_apps(user)
    sqls = [query["sql"] for query in captured.captured_queries]
    assert not _full_reads(sqls), sqls
    return reachable


def _check_all(users: list[User]) -> list[Reachable]:
    patched = [_patched(user) for user in users]
    for user, reachable in zip(users, patched, strict=True):
        assert _shape(reachable) == _shape(_fresh(user)), user.username
    return patched


def _warm(users: list[User]) -> list[Reachable]:
    warmed = [reachable_apps(user) for user in users]
    for reachable in warmed:
        reachable.search_texts()  # searched before the change: the patch keeps it in step
    return warmed


def test_add_change_delete_rename_equal_a_rebuild(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    before = _warm(users)
    assert [len(r.rows) for r in before] == [len(_fresh(user).rows) for user in users]
    assert len(before[0].rows) > 0
    assert len(before[1].rows) > 0

    # Added: one reachable by pat and eve, one by dana and eve, one by eve only (stage).
    AwsApp.objects.bulk_create(
        [
            _app(integration, 100, team="platform"),
            _app(integration, 101, team="data"),
            _app(integration, 102, team="data", env="stage"),
        ]
    )
    after_add = _check_all(users)
    assert "app-0100" in after_add[0].positions
    assert "app-0101" in after_add[1].positions
    assert "app-0102" not in after_add[1].positions
    assert "app-0102" in after_add[2].positions

    # Labels changed both ways: a platform app moves to data (leaves pat, enters dana), a data
    # app becomes stage (leaves dana through the deny).
    moved = AwsApp.objects.get(name="app-0100")
    moved.labels = {**moved.labels, "aws/team": "data"}
    moved.save()
    staged = AwsApp.objects.get(name="app-0101")
    staged.labels = {**staged.labels, "aws/env": "stage"}
    staged.save()
    after_change = _check_all(users)
    assert "app-0100" not in after_change[0].positions
    assert "app-0100" in after_change[1].positions
    assert "app-0101" not in after_change[1].positions

    # Roles changed on an app: dana's allowed ARNs on it shrink to the one left.
    AwsApp.objects.filter(name="app-0100").update(role_arns=[READ])
    after_roles = _check_all(users)
    row = next(row for row in after_roles[1].rows if row[0].name == "app-0100")
    assert row[1] == (READ,)

    # Deleted, and renamed (the sync renames in place, through a detour name).
    AwsApp.objects.filter(name__in=["app-0100", "app-0000"]).delete()
    AwsApp.objects.filter(name="app-0003").update(name="zz-renamed")
    after_delete = _check_all(users)
    for reachable in after_delete:
        assert "app-0100" not in reachable.positions
        assert "app-0000" not in reachable.positions
        assert "app-0003" not in reachable.positions
    assert "zz-renamed" in after_delete[2].positions


def test_a_set_not_asked_for_during_several_changes_catches_up(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    _warm(users)
    pat, dana = users[0], users[1]
    for n in range(5):
        AwsApp.objects.bulk_create([_app(integration, 200 + n, team="platform")])
        AwsApp.objects.filter(name=f"app-{200 + n:04d}").update(
            labels={"aws/team": "data", "aws/env": "prod"}
        )
        reachable_apps(pat)  # pat follows every change, dana none of them
    assert _shape(_patched(dana)) == _shape(_fresh(dana))
    assert _shape(_patched(pat)) == _shape(_fresh(pat))


def test_users_sharing_access_still_share_the_patched_set(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    twin = User.objects.create_user(username="pat2", password="x", roles=["platform"])
    first = reachable_apps(users[0])
    assert reachable_apps(twin) is first
    AwsApp.objects.bulk_create([_app(integration, 300, team="platform")])
    patched = _patched(users[0])
    assert patched is not first
    assert reachable_apps(twin) is patched
    assert "app-0300" in patched.positions


def test_a_rolled_back_change_is_not_kept(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    _warm(users)

    def write_then_fail() -> None:
        with transaction.atomic():
            AwsApp.objects.bulk_create([_app(integration, 400, team="platform")])
            AwsApp.objects.filter(name="app-0000").delete()
            seen = reachable_apps(users[2])  # this connection sees its own uncommitted change
            assert "app-0400" in seen.positions
            assert "app-0000" not in seen.positions
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        write_then_fail()
    after = reachable_apps(users[2])
    assert "app-0400" not in after.positions
    assert "app-0000" in after.positions
    for user in users:
        assert _shape(reachable_apps(user)) == _shape(_fresh(user))
    # And the next change after the rollback is applied on top of the right catalog.
    AwsApp.objects.bulk_create([_app(integration, 401, team="platform")])
    for user in users:
        assert _shape(reachable_apps(user)) == _shape(_fresh(user))


def test_fields_the_page_does_not_show_change_nothing(
    users: list[User], catalog: list[AwsApp]
) -> None:
    reachable_apps(users[0])
    version = catalog_version()
    AwsApp.objects.filter(pk=catalog[0].pk).update(
        last_confirmed_at=timezone.now(), sync_error="tags failed to load"
    )
    app = AwsApp.objects.get(pk=catalog[1].pk)
    app.save()  # a save writing the same values
    assert catalog_version() == version
    AwsApp.objects.filter(pk=catalog[1].pk).update(profile_name="Renamed profile")
    assert catalog_version() > version


def test_deletions_leave_tombstones_and_truncate_a_reset(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    _warm(users)
    AwsApp.objects.filter(pk__in=[catalog[0].pk, catalog[1].pk]).delete()
    tombstones = set(
        CatalogChange.objects.filter(version__isnull=True).values_list("app_id", flat=True)
    )
    assert {catalog[0].pk, catalog[1].pk} <= tombstones
    _check_all(users)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks
        cursor.execute("TRUNCATE resources_awsapp")
    AwsApp.objects.bulk_create([_app(integration, 500, team="platform")])
    for user in users:  # a reset: rebuilt from scratch, not patched
        assert _shape(reachable_apps(user)) == _shape(_fresh(user))
    assert list(reachable_apps(users[2]).positions) == ["app-0500"]


def test_a_large_change_rebuilds(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    _warm(users)
    AwsApp.objects.bulk_create([_app(integration, 1000 + n, team="platform") for n in range(1_100)])
    with CaptureQueriesContext(connection) as captured:
        reachable = reachable_apps(users[0])
    assert _full_reads([q["sql"] for q in captured.captured_queries])
    assert _shape(reachable) == _shape(_fresh(users[0]))


def test_query_count_after_a_change_is_constant(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    def counted() -> int:
        with CaptureQueriesContext(connection) as captured:
            reachable_apps(users[1])
        return len(captured.captured_queries)

    counted()
    warm = counted()
    AwsApp.objects.bulk_create([_app(integration, 600, team="data")])
    small = counted()
    AwsApp.objects.bulk_create([_app(integration, 700 + n, team="data") for n in range(300)])
    counted()
    AwsApp.objects.filter(name="app-0600").update(labels={"aws/team": "web"})
    large = counted()
    assert small == large == warm + 1
    assert counted() == warm


def test_many_changes_at_once_patch_too(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    """More changes than the bisecting patch takes (64): the filter-and-merge patch."""
    _warm(users)
    AwsApp.objects.bulk_create(
        [_app(integration, 800 + n, team=("platform", "data")[n % 2]) for n in range(90)]
    )
    AwsApp.objects.filter(name__in=[f"app-{n:04d}" for n in range(0, 40, 2)]).update(
        labels={"aws/team": "data", "aws/env": "stage"}
    )
    AwsApp.objects.filter(name__in=[f"app-{800 + n:04d}" for n in range(0, 90, 9)]).delete()
    after = _check_all(users)
    assert "app-0801" in after[1].positions
    assert "app-0800" not in after[0].positions


def test_a_request_that_read_an_older_version_patches_instead_of_re_reading(
    integration: Integration, users: list[User], catalog: list[AwsApp]
) -> None:
    # A request reads the version, another thread patches the cache to a newer one, then the
    # first request asks for the catalog with the version it read: it must not re-read the
    # whole table and label it with the older number (that dropped every patch).
    _warm(users)
    stale = catalog_cache._catalog_state()
    AwsApp.objects.bulk_create([_app(integration, 300, team="platform")])
    _check_all(users)  # the cache moves on to the newer version, by a patch
    newer = catalog_cache._current_catalog(catalog_cache._catalog_state())
    with CaptureQueriesContext(connection) as captured:
        served = catalog_cache._current_catalog(stale)
    assert not _full_reads([query["sql"] for query in captured.captured_queries])
    assert served.seq == newer.seq and served.version == newer.version
    assert catalog_cache._deltas, "the patches were dropped"
    _check_all(users)
