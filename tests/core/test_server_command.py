"""`rolegate-server` from a checkout: management commands, usage, and its metrics directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal.server", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_management_commands_run_through_rolegate_server(tmp_path: Path) -> None:
    listed = _run("help", ROLEGATE_VAR_DIR=str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    for command in ("migrate", "export_ca", "create", "get", "sync_profiles", "collectstatic"):
        assert command in listed.stdout


def test_usage_names_the_server_roles() -> None:
    usage = _run()
    assert usage.returncode == 2
    assert "rolegate-server web [--bind HOST:PORT] [--workers N]" in usage.stdout
    assert "rolegate-server worker" in usage.stdout and "rolegate-server beat" in usage.stdout


def test_a_one_off_command_ignores_a_missing_metrics_directory(tmp_path: Path) -> None:
    # The image sets PROMETHEUS_MULTIPROC_DIR for web and worker; `migrate` in the same image
    # must not fail because that directory only exists where a server created it.
    result = _run(
        "check",
        ROLEGATE_VAR_DIR=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "does-not-exist"),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_web_refuses_a_bad_worker_count(tmp_path: Path) -> None:
    result = _run("web", "--workers", "0", ROLEGATE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "--workers must be at least 1" in result.stderr
    bad_env = _run("web", ROLEGATE_VAR_DIR=str(tmp_path), ROLEGATE_WEB_TIMEOUT="soon")
    assert bad_env.returncode != 0
    assert "ROLEGATE_WEB_TIMEOUT must be an integer" in bad_env.stderr
