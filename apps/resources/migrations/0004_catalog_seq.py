"""Change numbers for the app catalog, so a process patches its cached catalog instead of
re-reading every app after each change (PostgreSQL; SQLite keeps 0003's version bump only).

- `resources_catalog_seq` hands out change numbers. A row trigger stamps an app's
  `catalog_seq` on insert, and on update when something the Resources page shows changed
  (name, integration, profile, account, region, labels, roles): `last_confirmed_at` or
  `sync_error` alone keep the old number and bump nothing.
- Deleting apps leaves tombstones (`resources_catalogchange.app_id`), TRUNCATE a reset row.
- Every statement that changed the catalog adds a marker (`resources_catalogchange` with the new
  `version`) and sets the one-row `resources_catalogversion` to (version, marker's number).
- Numbers are handed out in commit order: a statement-level BEFORE trigger takes the version
  row's lock, which the writer then holds until it commits, before the first number is drawn.
  So a reader that sees number n committed has seen every committed number below n, and the rows
  and log entries after n are exactly what changed since.
- The log keeps the last million numbers; a process whose marker is gone (pruned, or rolled
  back) rebuilds instead of patching.
"""

import importlib
from typing import Any

from django.db import migrations, models

_0003 = importlib.import_module("apps.resources.migrations.0003_catalogversion")

_INSTALL = """
DROP TRIGGER IF EXISTS resources_awsapp_catalog_truncate ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_delete ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_update ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_insert ON resources_awsapp;
DROP FUNCTION IF EXISTS resources_catalog_bump();

CREATE SEQUENCE resources_catalog_seq AS bigint;

CREATE FUNCTION resources_catalog_lock_row() RETURNS void AS $$
BEGIN
    PERFORM 1 FROM resources_catalogversion WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO resources_catalogversion (id, version, seq) VALUES (1, 0, 0)
        ON CONFLICT (id) DO NOTHING;
        PERFORM 1 FROM resources_catalogversion WHERE id = 1 FOR UPDATE;
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION resources_catalog_mark() RETURNS void AS $$
DECLARE
    marker bigint := nextval('resources_catalog_seq');
    next_version bigint;
BEGIN
    -- At least the clock in microseconds: a version rolled back or truncated away is never
    -- reused for different contents.
    UPDATE resources_catalogversion
    SET version = GREATEST(version + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint),
        seq = marker
    WHERE id = 1
    RETURNING version INTO next_version;
    INSERT INTO resources_catalogchange (seq, version, app_id) VALUES (marker, next_version, NULL);
    DELETE FROM resources_catalogchange WHERE seq < marker - 1000000;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION resources_catalog_lock() RETURNS trigger AS $$
BEGIN
    PERFORM resources_catalog_lock_row();
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION resources_awsapp_stamp() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.catalog_seq IS NOT NULL
        AND NEW.name IS NOT DISTINCT FROM OLD.name
        AND NEW.integration_id IS NOT DISTINCT FROM OLD.integration_id
        AND NEW.profile_arn IS NOT DISTINCT FROM OLD.profile_arn
        AND NEW.profile_name IS NOT DISTINCT FROM OLD.profile_name
        AND NEW.account_id IS NOT DISTINCT FROM OLD.account_id
        AND NEW.region IS NOT DISTINCT FROM OLD.region
        AND NEW.labels IS NOT DISTINCT FROM OLD.labels
        AND NEW.role_arns IS NOT DISTINCT FROM OLD.role_arns
    THEN
        NEW.catalog_seq := OLD.catalog_seq;
    ELSE
        NEW.catalog_seq := nextval('resources_catalog_seq');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION resources_catalog_inserted() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM resources_catalog_mark();
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION resources_catalog_updated() RETURNS trigger AS $$
BEGIN
    -- Rows stamped by this statement carry numbers above the last marker's.
    IF EXISTS (
        SELECT 1 FROM changed
        WHERE catalog_seq > (SELECT COALESCE(seq, 0) FROM resources_catalogversion WHERE id = 1)
    ) THEN
        PERFORM resources_catalog_mark();
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION resources_catalog_deleted() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        INSERT INTO resources_catalogchange (seq, version, app_id)
        SELECT nextval('resources_catalog_seq'), NULL, id FROM changed;
        PERFORM resources_catalog_mark();
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION resources_catalog_truncated() RETURNS trigger AS $$
BEGIN
    PERFORM resources_catalog_lock_row();
    INSERT INTO resources_catalogchange (seq, version, app_id)
    VALUES (nextval('resources_catalog_seq'), NULL, NULL);
    PERFORM resources_catalog_mark();
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Existing apps get numbers before the triggers exist, then one marker stands for them.
UPDATE resources_awsapp SET catalog_seq = nextval('resources_catalog_seq');
SELECT resources_catalog_lock_row();
SELECT resources_catalog_mark();

CREATE TRIGGER resources_awsapp_catalog_lock
    BEFORE INSERT OR UPDATE OR DELETE ON resources_awsapp
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_lock();
CREATE TRIGGER resources_awsapp_catalog_stamp
    BEFORE INSERT OR UPDATE ON resources_awsapp
    FOR EACH ROW EXECUTE FUNCTION resources_awsapp_stamp();
CREATE TRIGGER resources_awsapp_catalog_insert
    AFTER INSERT ON resources_awsapp REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_inserted();
CREATE TRIGGER resources_awsapp_catalog_update
    AFTER UPDATE ON resources_awsapp REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_updated();
CREATE TRIGGER resources_awsapp_catalog_delete
    AFTER DELETE ON resources_awsapp REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_deleted();
CREATE TRIGGER resources_awsapp_catalog_truncate
    AFTER TRUNCATE ON resources_awsapp
    FOR EACH STATEMENT EXECUTE FUNCTION resources_catalog_truncated();
"""

_REMOVE = """
DROP TRIGGER IF EXISTS resources_awsapp_catalog_truncate ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_delete ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_update ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_insert ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_stamp ON resources_awsapp;
DROP TRIGGER IF EXISTS resources_awsapp_catalog_lock ON resources_awsapp;
DROP FUNCTION IF EXISTS resources_catalog_truncated();
DROP FUNCTION IF EXISTS resources_catalog_deleted();
DROP FUNCTION IF EXISTS resources_catalog_updated();
DROP FUNCTION IF EXISTS resources_catalog_inserted();
DROP FUNCTION IF EXISTS resources_awsapp_stamp();
DROP FUNCTION IF EXISTS resources_catalog_lock();
DROP FUNCTION IF EXISTS resources_catalog_mark();
DROP FUNCTION IF EXISTS resources_catalog_lock_row();
DROP SEQUENCE IF EXISTS resources_catalog_seq;
"""


def _install(apps: object, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_INSTALL, None)


def _remove(apps: object, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_REMOVE, None)
        schema_editor.execute(_0003._BUMP, None)


class Migration(migrations.Migration):
    dependencies = [
        ("resources", "0003_catalogversion"),
    ]

    operations = [
        migrations.CreateModel(
            name="CatalogChange",
            fields=[
                ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(null=True)),
                ("app_id", models.BigIntegerField(null=True)),
            ],
        ),
        migrations.AddField(
            model_name="awsapp",
            name="catalog_seq",
            field=models.BigIntegerField(db_index=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="catalogversion",
            name="seq",
            field=models.BigIntegerField(null=True),
        ),
        migrations.RunPython(_install, _remove),
    ]
