"""`python -m sandbox --state-file`: a second run shows what the first created (issue 24, item 6:
two `make demo` runs in a row keep a profile created between them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]


def _start(tmp_path: Path, state_file: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--seed",
            "guide",
            "--credentials-file",
            str(tmp_path / "credentials"),
            "--state-file",
            str(state_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Try:"):
            break
    url = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("Sandbox AWS"))
    return process, url, lines


def _clients(url: str, tmp_path: Path) -> tuple[Any, Any]:
    session = boto3.session.Session(
        profile_name="sandbox-admin", region_name="us-east-1", botocore_session=None
    )
    return session.client("iam", endpoint_url=url), session.client(
        "rolesanywhere", endpoint_url=url
    )


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=30)
    assert process.returncode == 0


def test_a_profile_created_in_one_run_is_there_in_the_next(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    state_file = tmp_path / "var" / "state.pickle"

    process, url, lines = _start(tmp_path, state_file)
    try:
        assert f"State saved to {state_file}\n" in lines
        iam, ra = _clients(url, tmp_path)
        role = iam.create_role(RoleName="MadeInRunOne", AssumeRolePolicyDocument="{}")["Role"]
        created = ra.create_profile(name="MadeInRunOne", roleArns=[role["Arn"]], enabled=True)
        profile_arn = created["profile"]["profileArn"]
        ra.tag_resource(resourceArn=profile_arn, tags=[{"key": "team", "value": "one"}])
    finally:
        _stop(process)
    assert state_file.is_file()

    process, url, lines = _start(tmp_path, state_file)
    try:
        assert f"State restored from {state_file}\n" in lines
        iam, ra = _clients(url, tmp_path)
        profiles = {p["name"]: p for p in ra.list_profiles()["profiles"]}
        # The seed's profile and the one made in the first run, with the same ARN and tags.
        assert set(profiles) == {"ExampleReadOnlyAccess", "MadeInRunOne"}
        assert profiles["MadeInRunOne"]["profileArn"] == profile_arn
        tags = ra.list_tags_for_resource(resourceArn=profile_arn)["tags"]
        assert tags == [{"key": "team", "value": "one"}]
        assert iam.get_role(RoleName="MadeInRunOne")["Role"]["Arn"] == role["Arn"]
    finally:
        _stop(process)

    # Without the file the sandbox starts from the seed again.
    state_file.unlink()
    process, url, lines = _start(tmp_path, state_file)
    try:
        _, ra = _clients(url, tmp_path)
        assert [p["name"] for p in ra.list_profiles()["profiles"]] == ["ExampleReadOnlyAccess"]
    finally:
        _stop(process)
