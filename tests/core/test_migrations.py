"""Migrations keep databases that already applied them consistent."""

from __future__ import annotations

from django.apps import apps
from django.db.migrations.loader import MigrationLoader


def test_no_migration_depends_on_another_apps_latest() -> None:
    # `("app", "__latest__")` resolves to whatever that app's newest migration is when the graph
    # is built: once the app gains a migration, every database that applied the dependant
    # before it fails `migrate` with InconsistentMigrationHistory.
    ours = {config.label for config in apps.get_app_configs() if config.name.startswith("apps.")}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    floating = [
        f"{app}.{name} -> {dependency}"
        for (app, name), migration in loader.disk_migrations.items()
        if app in ours
        for dependency in migration.dependencies
        if dependency[1] == "__latest__" and dependency[0] != app
    ]
    assert {"core", "resources", "authority"} <= ours
    assert floating == []
