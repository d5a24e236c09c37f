"""The demo's SQLite database migrates and bumps the catalog version on every app change.

The Resources page and `GET /api/v1/apps` serve the reachable set cached per catalog version, so
a database where the version never moves would show deleted apps until a restart.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

APP_ROW = (
    "INSERT INTO resources_awsapp (name, profile_arn, profile_name, labels, account_id, region,"
    " partition, role_arns, accept_role_session_name, duration_seconds, console_url, sync_error,"
    " last_confirmed_at, created_at, updated_at, integration_id) VALUES"
    " (?, ?, 'p', '{}', '123456789012', 'us-east-1', 'aws', '[]', 1, 3600, '', '',"
    " '2026-01-01', '2026-01-01', '2026-01-01', 1)"
)


def _version(db: sqlite3.Connection) -> int:
    rows = db.execute("SELECT version FROM resources_catalogversion WHERE id = 1").fetchall()
    return int(rows[0][0]) if rows else 0


def test_sqlite_migrates_and_every_app_change_bumps_the_version(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "ROLEGATE_ENV": "test",
        "ROLEGATE_VAR_DIR": str(tmp_path),
    }
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    db = sqlite3.connect(tmp_path / "demo.sqlite3")  # foreign keys off: no integration needed
    seen = [_version(db)]
    db.execute(APP_ROW, ("one", "arn:aws:rolesanywhere:us-east-1:123456789012:profile/one"))
    db.commit()
    seen.append(_version(db))
    db.execute("UPDATE resources_awsapp SET labels = '{\"env\": \"dev\"}' WHERE name = 'one'")
    db.commit()
    seen.append(_version(db))
    db.execute("DELETE FROM resources_awsapp WHERE name = 'one'")
    db.commit()
    seen.append(_version(db))
    db.close()

    assert seen[0] == 0
    assert seen[1] > 0
    assert seen[1] < seen[2] < seen[3], seen
