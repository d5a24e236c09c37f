"""The slim CLI distribution (issue 22, item 1): built from this repository, installed in a fresh
virtualenv, counted, and used for the walkthrough's CLI part against a live Rolegate and the
sandbox (the AWS CLI of the test environment runs the slim install's credential_process).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import run
from tests.cli.test_cli_e2e import PASSWORD, _aws
from tests.resources.conftest import LaunchScenario

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rolegate-tests"
MAX_THIRD_PARTY = 5
FORBIDDEN = {"django", "boto3", "botocore", "moto", "celery", "urllib3", "cryptography"}


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:")]  # fmt: skip


@pytest.fixture(scope="module")
def slim_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("slim-dist")
    built = subprocess.run(
        [sys.executable, str(ROOT / "cli" / "build_wheel.py"), str(out), "--no-build-isolation"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    wheel = Path(built.stdout.strip().splitlines()[-1])
    requires = _requires(wheel)
    # The dependencies' wheels, fetched once per machine (as tests/packaging does).
    house = CACHE / ("slim-" + hashlib.sha256("\n".join(requires).encode()).hexdigest()[:16])
    if not (house / ".complete").exists():
        house.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(house), *requires],
            check=True,
            capture_output=True,
            timeout=600,
        )
        (house / ".complete").touch()
    venv = tmp_path_factory.mktemp("slim-venv") / "venv"
    python = shutil.which("python3.11") or sys.executable
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    installed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(house),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert installed.returncode == 0, installed.stderr
    return venv


def _distributions(venv: Path) -> list[str]:
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return sorted(entry["name"].lower() for entry in json.loads(listed.stdout))


def test_the_slim_install_is_small_and_has_no_server_packages(slim_venv: Path) -> None:
    names = _distributions(slim_venv)
    third_party = [n for n in names if n not in ("rolegate-cli", "pip", "setuptools", "wheel")]
    assert "rolegate-cli" in names
    assert len(third_party) <= MAX_THIRD_PARTY, names
    assert third_party == ["shtab"]
    assert not FORBIDDEN & set(names)
    # The code itself imports nothing it did not declare.
    probe = run(
        [str(slim_venv / "bin" / "python"), "-c",
         "import rolegate.__main__, rolegate.commands, rolegate.exec_cli, rolegate.catalog, "
         "rolegate.credentials, rolegate.requests_cli, awsra.arn, awsra.credential_process"],
        {"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    completion = run([str(slim_venv / "bin" / "rolegate"), "completion", "bash"], {})
    assert completion.returncode == 0 and "_shtab_rolegate" in completion.stdout
    version = run([str(slim_venv / "bin" / "rolegate"), "--version"], {})
    assert version.stdout == "rolegate 0.1.0\n"


def test_the_walkthrough_with_the_slim_install(
    slim_venv: Path,
    live_server: Any,
    launch_scenario: LaunchScenario,
    cli_env: dict[str, str],
) -> None:
    slim = str(slim_venv / "bin" / "rolegate")
    env = {
        **cli_env,
        "AWS_ENDPOINT_URL": launch_scenario.sandbox.url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    app = launch_scenario.app.name
    login = run([slim, "login", "--proxy", live_server.url, "--user", "alice"], env, stdin=PASSWORD)
    assert login.returncode == 0, login.stderr
    assert "Logged in as:   alice" in login.stdout
    listing = run([slim, "apps", "ls", "--format", "json"], env)
    assert [entry["name"] for entry in json.loads(listing.stdout)] == [app]
    apps_login = run([slim, "apps", "login", app], env)
    assert apps_login.returncode == 0, apps_login.stderr
    config = Path(env["AWS_CONFIG_FILE"]).read_text()
    assert f"credential_process = {slim} aws credentials" in config
    identity = _aws(["--profile", app, "sts", "get-caller-identity"], env)
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == launch_scenario.console_arn("alice")
    executed = run([slim, "exec", app, "--", "sh", "-c", 'test -n "$AWS_SESSION_TOKEN"'], env)
    assert executed.returncode == 0, executed.stderr
    logout = run([slim, "logout"], env)
    assert logout.returncode == 0 and f'Removed AWS profile "{app}"' in logout.stdout
