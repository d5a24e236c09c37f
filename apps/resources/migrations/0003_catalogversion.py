"""A one-row catalog version, bumped by a trigger on every statement that changes `AwsApp`.

Readers (the Resources page, the API listing) compare one integer instead of aggregating over
the whole app table. The trigger is statement-level, so a sync's bulk write bumps it once, and
it is transactional: a reader never sees the new version before the rows it stands for. The
new value is at least the clock in microseconds, so a version rolled back (or truncated away)
is never reused for different contents.

SQLite (the demo's database) has no statement-level triggers: there, row-level triggers bump it
(once per changed row), with the same never-reused rule.
"""

from typing import Any

from django.db import migrations, models

_BUMP = """
CREATE OR REPLACE FUNCTION resources_catalog_bump() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'TRUNCATE' THEN
        IF NOT EXISTS (SELECT 1 FROM changed) THEN
            RETURN NULL;  -- a statement that touched no row changes nothing
        END IF;
    END IF;
    INSERT INTO resources_catalogversion (id, version)
    VALUES (1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
    ON CONFLICT (id) DO UPDATE
        SET version = GREATEST(resources_catalogversion.version + 1, EXCLUDED.version);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER resources_awsapp_catalog_insert
    AFTER INSERT ON resources_awsapp REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_bump();
CREATE TRIGGER resources_awsapp_catalog_update
    AFTER UPDATE ON resources_awsapp REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_bump();
CREATE TRIGGER resources_awsapp_catalog_delete
    AFTER DELETE ON resources_awsapp REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_bump();
CREATE TRIGGER resources_awsapp_catalog_truncate
    AFTER TRUNCATE ON resources_awsapp
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_bump();
"""

_DROP = """
DROP TRIGGER IF EXISTS resources_awsapp_catalog_truncate ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_delete ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_update ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_insert ON resources_awsapp;
DROP FUNCTION IF EXISTS resources_catalog_bump();
"""

_SQLITE_EVENTS = ("insert", "update", "delete")
_SQLITE_BUMP = """
CREATE TRIGGER resources_awsapp_catalog_{event} AFTER {event} ON resources_awsapp BEGIN
    INSERT INTO resources_catalogversion (id, version)
    VALUES (1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
    ON CONFLICT (id) DO UPDATE
        SET version = MAX(resources_catalogversion.version + 1, excluded.version);
END;
"""


def _install(apps: object, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_BUMP, None)
    elif schema_editor.connection.vendor == "sqlite":
        for event in _SQLITE_EVENTS:
            schema_editor.execute(_SQLITE_BUMP.format(event=event), None)
    else:  # pragma: no cover - Rolegate runs on PostgreSQL and, for the demo, SQLite
        raise NotImplementedError(
            f"no catalog-version trigger for {schema_editor.connection.vendor}"
        )


def _remove(apps: object, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_DROP, None)
    elif schema_editor.connection.vendor == "sqlite":
        for event in _SQLITE_EVENTS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS resources_awsapp_catalog_{event};", None)


class Migration(migrations.Migration):
    dependencies = [
        ("resources", "0002_appuserstate"),
    ]

    operations = [
        migrations.CreateModel(
            name="CatalogVersion",
            fields=[
                ("id", models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(_install, _remove),
    ]
