"""Production settings pass ``check --deploy`` with warnings treated as failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_environ(tmp_path: Path, **overrides: str) -> dict[str, str]:
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ROLEGATE_ENV": "production",
        "SECRET_KEY": "x" * 20 + "-production-secret-key-for-the-deploy-check-0123456789",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rolegate"
        ),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ROLEGATE_PUBLIC_URL": "https://rolegate.example.com",
        "ROLEGATE_CA_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "ROLEGATE_AUDIT_KEY": "deploy-check:" + "audit-key-for-the-deploy-check-0123456789",
        "ROLEGATE_VAR_DIR": str(tmp_path),
    }
    environ.update(overrides)
    return environ


def check(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_production_settings_pass_deploy_check(tmp_path: Path) -> None:
    result = check(production_environ(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_demo_defaults_are_refused_in_production(tmp_path: Path) -> None:
    result = check(
        production_environ(
            tmp_path,
            DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
            CELERY_BROKER_URL="filesystem://",
            ROLEGATE_PUBLIC_URL="http://rolegate.example.com",
        )
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "rolegate.E001" in output
    assert "rolegate.E002" in output
    assert "rolegate.W001" in output


def test_production_needs_an_audit_key(tmp_path: Path) -> None:
    environ = production_environ(tmp_path)
    del environ["ROLEGATE_AUDIT_KEY"]
    result = check(environ)
    assert result.returncode != 0
    assert "rolegate.E030" in result.stdout + result.stderr
    result = check(production_environ(tmp_path, ROLEGATE_AUDIT_KEY="k1:too-short"))
    assert "rolegate.E031" in result.stdout + result.stderr
    key_file = tmp_path / "audit-key"
    key_file.write_text("k1:" + "f" * 40 + "\n")
    environ = production_environ(tmp_path, ROLEGATE_AUDIT_KEY_FILE=str(key_file))
    del environ["ROLEGATE_AUDIT_KEY"]
    assert check(environ).returncode == 0


def test_the_old_forwarded_for_flag_is_a_deprecated_alias(tmp_path: Path) -> None:
    result = check(production_environ(tmp_path, ROLEGATE_TRUST_X_FORWARDED_FOR="true"))
    assert "rolegate.W030" in result.stdout + result.stderr
