"""Migration authority 0002 on a database that already applied 0001 (PostgreSQL): it drops the
unused leaf indexes, builds the CRL's partial index, and rebuilds that index when an earlier,
interrupted run left it INVALID."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_index: PostgreSQL"),
]

BEFORE = [("authority", "0001_initial")]
AFTER = [("authority", "0002_leaf_indexes_for_issuance")]
CRL_INDEX = "leaf_revoked_by_authority"


def _migrate(targets: list[tuple[str, str]]) -> None:
    MigrationExecutor(connection).migrate(targets)


def _indexes() -> dict[str, bool]:
    """The leaf table's indexes by name: valid or not."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = 'authority_leafcertificate'"
        )
        return {name: valid for name, valid in cursor.fetchall()}


@pytest.fixture
def at_0001() -> Iterator[None]:
    _migrate(BEFORE)
    try:
        yield
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_unused_indexes_go_and_the_crl_index_comes(at_0001: None) -> None:
    before = _indexes()
    assert CRL_INDEX not in before
    assert len(before) == 10
    _migrate(AFTER)
    after = _indexes()
    assert after[CRL_INDEX] is True
    assert len(after) == 4  # primary key, serial (unique), issued_at, the CRL's
    assert all(after.values())


def test_an_invalid_index_left_by_an_interrupted_run_is_rebuilt(at_0001: None) -> None:
    # What an interrupted first run leaves: 0002 not recorded as applied, and the index its
    # CREATE INDEX CONCURRENTLY had begun, marked invalid.
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX {CRL_INDEX} ON authority_leafcertificate (authority_id, revoked_at) "
            "WHERE revoked_at IS NOT NULL"
        )
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [CRL_INDEX]
        )
    assert _indexes()[CRL_INDEX] is False
    _migrate(AFTER)
    assert _indexes()[CRL_INDEX] is True
