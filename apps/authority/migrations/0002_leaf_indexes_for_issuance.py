"""Drop the leaf table's indexes no query uses, and index revoked leaves by CA for the CRL.

Every credential issuance inserts one leaf row, and each index is one more b-tree insert on
that path: 0001 made ten (the primary key, the serial's unique index and its pattern-ops copy,
subject and purpose with theirs, the CA foreign key, issued_at and revoked_at). Kept: the
primary key, the serial (unique: revocation and audit find leaves by it) and issued_at (the
admin list). The CRL's query (a CA's revoked leaves in revocation order) gets an index only
revoked rows enter, so an insert does not touch it.

Safe on a live, large table: on PostgreSQL the indexes are dropped and created CONCURRENTLY
(no lock blocking issuance while it runs), every statement is IF [NOT] EXISTS (a database
whose indexes were already changed by hand migrates too), and the foreign key constraint is
left as it is (a plain AlterField of the foreign key would drop and re-validate it).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

TABLE = "authority_leafcertificate"
# (column, pattern-ops copy too): the indexes 0001 created that no query uses.
DROPPED = [
    ("subject_cn", True),
    ("purpose", True),
    ("authority_id", False),
    ("revoked_at", False),
    ("serial_hex", True),  # only the pattern-ops copy: the unique index stays
]
CRL_INDEX = "leaf_revoked_by_authority"


def _names(schema_editor: Any) -> list[str]:
    names = []
    for column, like in DROPPED:
        if column != "serial_hex":
            names.append(schema_editor._create_index_name(TABLE, [column], suffix=""))
        if like and schema_editor.connection.vendor == "postgresql":
            names.append(schema_editor._create_index_name(TABLE, [column], suffix="_like"))
    return names


def _concurrently(schema_editor: Any) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def _drop_if_invalid(schema_editor: Any, name: str) -> None:
    """A CREATE INDEX CONCURRENTLY that failed part-way leaves an INVALID index behind, which
    IF NOT EXISTS would then keep: drop it first, so a re-run builds it again (PostgreSQL)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND NOT i.indisvalid",
            [name],
        )
        invalid = cursor.fetchone() is not None
    if invalid:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")


def forward(apps: Any, schema_editor: Any) -> None:
    quote = schema_editor.quote_name
    how = _concurrently(schema_editor)
    _drop_if_invalid(schema_editor, CRL_INDEX)
    schema_editor.execute(
        f"CREATE INDEX{how} IF NOT EXISTS {quote(CRL_INDEX)} ON {quote(TABLE)} "
        f"({quote('authority_id')}, {quote('revoked_at')}) "
        f"WHERE {quote('revoked_at')} IS NOT NULL"
    )
    for name in _names(schema_editor):
        schema_editor.execute(f"DROP INDEX{how} IF EXISTS {quote(name)}")


def backward(apps: Any, schema_editor: Any) -> None:
    quote = schema_editor.quote_name
    how = _concurrently(schema_editor)
    postgres = schema_editor.connection.vendor == "postgresql"
    for column, like in DROPPED:
        if column != "serial_hex":
            name = schema_editor._create_index_name(TABLE, [column], suffix="")
            _drop_if_invalid(schema_editor, name)
            schema_editor.execute(
                f"CREATE INDEX{how} IF NOT EXISTS {quote(name)} ON {quote(TABLE)} ({quote(column)})"
            )
        if like and postgres:
            name = schema_editor._create_index_name(TABLE, [column], suffix="_like")
            _drop_if_invalid(schema_editor, name)
            schema_editor.execute(
                f"CREATE INDEX{how} IF NOT EXISTS {quote(name)} ON {quote(TABLE)} "
                f"({quote(column)} varchar_pattern_ops)"
            )
    schema_editor.execute(f"DROP INDEX{how} IF EXISTS {quote(CRL_INDEX)}")


class Migration(migrations.Migration):
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("authority", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward)],
            state_operations=[
                migrations.AlterField(
                    model_name="leafcertificate",
                    name="authority",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="issued",
                        to="authority.certificateauthority",
                    ),
                ),
                migrations.AlterField(
                    model_name="leafcertificate",
                    name="purpose",
                    field=models.CharField(max_length=64),
                ),
                migrations.AlterField(
                    model_name="leafcertificate",
                    name="revoked_at",
                    field=models.DateTimeField(blank=True, null=True),
                ),
                migrations.AlterField(
                    model_name="leafcertificate",
                    name="subject_cn",
                    field=models.CharField(max_length=200),
                ),
                migrations.AddIndex(
                    model_name="leafcertificate",
                    index=models.Index(
                        condition=models.Q(("revoked_at__isnull", False)),
                        fields=["authority", "revoked_at"],
                        name=CRL_INDEX,
                    ),
                ),
            ],
        )
    ]
