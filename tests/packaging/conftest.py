"""The wheel, built once per test session, and a fresh virtualenv it is installed in.

Both steps run the deploy/ scripts the Dockerfile runs. The virtualenv installs offline from a
wheelhouse of the production dependencies, kept per machine under ~/.cache and keyed by the
wheel's dependency list, so only the first run (or a dependency change) downloads anything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.packaging.support import ROOT, free_port, stop

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rolegate-tests"


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    return sorted(
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    )


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/build-wheel.sh on a clean copy of the source (no build/ left from earlier runs)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for package in ("portal", "apps", "awsra", "rbac", "rolegate", "sandbox", "deploy"):
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        ["sh", "deploy/build-wheel.sh", str(source), str(out)],
        cwd=source,
        env={**os.environ, "PYTHON": sys.executable, "PIP_WHEEL_ARGS": "--no-build-isolation"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("rolegate-*.whl")
    return wheel


def _wheelhouse(wheel: Path) -> Path:
    """Wheels of every production dependency, for an offline install (built on first use)."""
    production = [line for line in _requires(wheel) if "extra ==" not in line]
    key = hashlib.sha256("\n".join(production).encode()).hexdigest()[:16]
    house = CACHE / f"wheelhouse-{key}"
    if (house / ".complete").exists():
        return house
    partial = CACHE / f"wheelhouse-{key}.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(partial), *production],
        check=True,
        capture_output=True,
        timeout=900,
    )
    (partial / ".complete").touch()
    try:
        partial.rename(house)
    except OSError:  # another test process finished first: use its copy
        shutil.rmtree(partial, ignore_errors=True)
    return house


@pytest.fixture(scope="session")
def wheel_venv(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/install.sh: a fresh virtualenv with the wheel, collectstatic and check --deploy."""
    house = _wheelhouse(built_wheel)
    venv = tmp_path_factory.mktemp("venv") / "rolegate"
    python = shutil.which("python3.11") or sys.executable
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "install.sh"), str(built_wheel.parent), str(venv)],
        cwd=tmp_path_factory.mktemp("elsewhere"),  # never the source tree
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(venv.parent),
            "PYTHON": python,
            # --no-compile: the test imports each module once; the image keeps the bytecode.
            "PIP_INSTALL_ARGS": f"--no-compile --no-index --find-links {house}",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    return venv


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own, so nothing else consumes or adds messages."""
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        client.close()
        stop(process)
