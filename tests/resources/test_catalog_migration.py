"""Migration 0004 on a database that already holds apps: every app gets a change number, the log
starts with a marker, and the process cache then patches on from there (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.access import selectors as access
from apps.access.services import role_create
from apps.accounts.models import User
from apps.integrations.models import Integration
from apps.resources.models import AwsApp, CatalogChange, CatalogVersion
from apps.resources.queries import app_catalog_forget, reachable_apps
from apps.resources.queries import catalog as catalog_cache
from apps.resources.queries import reachable as reachable_sets

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="change numbers: PostgreSQL"),
]

ACCOUNT = "123456789012"
READ = f"arn:aws:iam::{ACCOUNT}:role/Read"
BEFORE = [("resources", "0003_catalogversion")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.fixture
def at_0003() -> Iterator[MigrationExecutor]:
    app_catalog_forget()
    executor = _migrate(BEFORE)
    try:
        yield executor
    finally:
        latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
        _migrate(latest)
        app_catalog_forget()


def test_existing_apps_are_numbered_and_patching_works_after(
    at_0003: MigrationExecutor,
) -> None:
    old = at_0003.loader.project_state(BEFORE).apps
    integration = Integration.objects.create(
        name="aws-prod",
        trust_anchor_arn=f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/x",
        partition="aws",
        region="us-east-1",
        account_id=ACCOUNT,
    )
    old_app = old.get_model("resources", "AwsApp")
    now = timezone.now()
    for n, team in enumerate(("platform", "data", "platform")):
        old_app.objects.create(
            name=f"app-{n}",
            integration_id=integration.pk,
            profile_arn=f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/{n}",
            profile_name=f"App{n}",
            labels={"aws/team": team},
            account_id=ACCOUNT,
            region="us-east-1",
            partition="aws",
            role_arns=[READ],
            console_url="https://console.aws.amazon.com/",
            last_confirmed_at=now,
        )

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    numbers = list(AwsApp.objects.values_list("catalog_seq", flat=True))
    assert None not in numbers
    assert len(set(numbers)) == 3
    state = CatalogVersion.objects.get(pk=1)
    assert state.seq is not None
    assert state.seq > max(numbers)
    assert CatalogChange.objects.filter(seq=state.seq, version=state.version).exists()

    role_create(
        actor=None,
        name="platform",
        spec={"allow": {"app_labels": {"aws/team": "platform"}, "aws_role_arns": [READ]}},
    )
    user = User.objects.create_user(username="pat", password="x", roles=["platform"])
    assert list(reachable_apps(user).positions) == ["app-0", "app-2"]
    AwsApp.objects.filter(name="app-1").update(labels={"aws/team": "platform"})
    AwsApp.objects.filter(name="app-0").delete()
    patched = reachable_apps(user)
    assert catalog_cache._deltas  # patched from the log, not re-read
    version, seq = catalog_cache._catalog_state()
    fresh = reachable_sets._build_reachable(
        access.user_access(user), catalog_cache._load_catalog(version, seq, generation=-1)
    )
    assert list(patched.rows) == list(fresh.rows)
    assert list(patched.positions) == ["app-1", "app-2"]


def test_writers_draw_numbers_in_commit_order() -> None:
    """A second writer waits for the first one's commit before it draws a number, so a reader
    that saw number n committed has seen every number below n (what patching relies on)."""
    import threading

    from django.db import connections, transaction

    integration = Integration.objects.create(
        name="aws-prod",
        trust_anchor_arn=f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/x",
        partition="aws",
        region="us-east-1",
        account_id=ACCOUNT,
    )

    def app(name: str) -> AwsApp:
        return AwsApp(
            name=name,
            integration=integration,
            profile_arn=f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/{name}",
            profile_name=name,
            labels={"aws/team": "platform"},
            account_id=ACCOUNT,
            region="us-east-1",
            partition="aws",
            role_arns=[READ],
            console_url="https://console.aws.amazon.com/",
            last_confirmed_at=timezone.now(),
        )

    done = threading.Event()

    def second_writer() -> None:
        try:
            with transaction.atomic():
                app("second").save()
        finally:
            connections.close_all()
            done.set()

    with transaction.atomic():
        app("first-a").save()
        writer = threading.Thread(target=second_writer)
        writer.start()
        assert not done.wait(1.0)  # blocked on the catalog lock while this one is open
        app("first-b").save()  # drawn after the waiting writer tried: still below its number
    writer.join(30)
    assert done.is_set()
    numbers = dict(AwsApp.objects.values_list("name", "catalog_seq"))
    assert numbers["first-a"] < numbers["first-b"] < numbers["second"]
