"""moto behind the sandbox: IAM policy enforcement, the guide seed, the CLI, console sign-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote_plus, urlencode

import pytest
import urllib3
from botocore.exceptions import ClientError

from sandbox import Sandbox, create_trust_anchor, seed_guide
from sandbox.moto_backend import iam
from sandbox.seed import GUIDE_TRUST_POLICY
from tests.sandbox.sandbox_helpers import (
    Scenario,
    aws_cli_env,
    client,
    run_aws_cli,
    run_aws_cli_raw,
)

ROOT = Path(__file__).resolve().parents[2]


def test_read_only_access_allows_s3_ls_and_denies_s3_mb(scenario: Scenario) -> None:
    admin_s3 = client("s3", scenario.sandbox, scenario.operator)
    admin_s3.create_bucket(Bucket="existing-bucket")
    credentials = scenario.create_session().credentials

    listed = run_aws_cli_raw(scenario.sandbox, credentials, "s3", "ls")
    assert listed.returncode == 0, listed.stderr
    assert "existing-bucket" in listed.stdout

    made = run_aws_cli_raw(scenario.sandbox, credentials, "s3", "mb", "s3://forbidden-bucket")
    assert made.returncode != 0
    assert "AccessDenied" in made.stderr
    names = [b["Name"] for b in admin_s3.list_buckets()["Buckets"]]
    assert names == ["existing-bucket"]

    with pytest.raises(ClientError) as raised:
        client("iam", scenario.sandbox, credentials).create_user(UserName="nope")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"


def test_guide_seed(sandbox: Sandbox, pki) -> None:
    seeded = seed_guide(sandbox)
    assert seeded["role_arn"] == "arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"
    operator = seeded["operator"]
    admin_iam = client("iam", sandbox, operator)
    role = admin_iam.get_role(RoleName="ExampleReadOnlyAccess")["Role"]
    assert role["AssumeRolePolicyDocument"] == GUIDE_TRUST_POLICY
    attached = admin_iam.list_attached_role_policies(RoleName="ExampleReadOnlyAccess")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["ReadOnlyAccess"]
    user_policies = admin_iam.list_attached_user_policies(UserName="sandbox-admin")
    assert [p["PolicyName"] for p in user_policies["AttachedPolicies"]] == ["AdministratorAccess"]

    ra = client("rolesanywhere", sandbox, operator)
    (profile,) = ra.list_profiles()["profiles"]
    assert profile["name"] == "ExampleReadOnlyAccess"
    assert profile["profileArn"] == seeded["profile_arn"]
    assert profile["roleArns"] == [seeded["role_arn"]]
    assert ra.list_trust_anchors()["trustAnchors"] == []  # enrollment creates it

    body = (
        client("s3", sandbox, operator)
        .get_object(Bucket=seeded["bucket"], Key=seeded["object_key"])["Body"]
        .read()
    )
    assert body

    # The walkthrough: a trust anchor for Rolegate's CA, then the guide's CLI steps.
    anchor_arn = create_trust_anchor(sandbox, pki.pem)
    scenario = Scenario(
        sandbox=sandbox,
        operator=operator,
        ca=pki,
        anchor_arn=anchor_arn,
        anchor_id=anchor_arn.rsplit("/", 1)[1],
        role_arn=seeded["role_arn"],
        profile_arn=seeded["profile_arn"],
        profile_id=profile["profileId"],
    )
    credentials = scenario.create_session(scenario.leaf("alice"), session_name="alice").credentials
    who = run_aws_cli(sandbox, credentials, "sts", "get-caller-identity")
    assert who["Arn"] == "arn:aws:sts::123456789012:assumed-role/ExampleReadOnlyAccess/alice"
    listing = run_aws_cli_raw(sandbox, credentials, "s3", "ls")
    assert seeded["bucket"] in listing.stdout


def test_reset_forgets_everything(sandbox: Sandbox, sandbox_operator) -> None:
    seed_guide(sandbox, accept_role_session_name=False)
    sandbox.faults.latency(0.0)
    sandbox.reset()
    assert iam().list_users("/", None, None) == []
    assert sandbox.state.profiles == {}
    assert sandbox.faults.describe()["latencies"] == {}
    # A reset sandbox accepts the same seed again (no leftover bucket or user names).
    assert seed_guide(sandbox)["bucket"]


def test_only_one_sandbox_per_process(aws_sandbox: Sandbox) -> None:
    with pytest.raises(RuntimeError, match="one sandbox per process"):
        Sandbox(port=0).start()


def test_console_federation(scenario: Scenario) -> None:
    credentials = scenario.create_session(session_name="alice").credentials
    session = json.dumps(
        {
            "sessionId": credentials["accessKeyId"],
            "sessionKey": credentials["secretAccessKey"],
            "sessionToken": credentials["sessionToken"],
        }
    )
    base = f"{scenario.sandbox.url}/federation"
    token_url = f"{base}?Action=getSigninToken&SessionDuration=3600&Session={quote_plus(session)}"
    answer = urllib3.request("GET", token_url, retries=False)
    assert answer.status == 200
    token = json.loads(answer.data)["SigninToken"]

    login = urllib3.request(
        "GET",
        base
        + "?"
        + urlencode(
            {
                "Action": "login",
                "Issuer": "https://rolegate.example",
                "Destination": "https://console.aws.amazon.com/s3/home",
                "SigninToken": token,
            }
        ),
        retries=False,
    )
    page = login.data.decode()
    assert login.status == 200
    assert "AWS console (sandbox)" in page
    assert "arn:aws:sts::123456789012:assumed-role/ExampleReadOnlyAccess/alice" in page
    assert "https://console.aws.amazon.com/s3/home" in page
    assert "123456789012" in page

    forged = json.dumps({**json.loads(session), "sessionKey": "wrong"})
    refused = urllib3.request("GET", f"{base}?Action=getSigninToken&Session={quote_plus(forged)}")
    assert refused.status == 400
    too_long = urllib3.request(
        "GET", f"{base}?Action=getSigninToken&SessionDuration=50000&Session={quote_plus(session)}"
    )
    assert too_long.status == 400
    bad_token = urllib3.request("GET", f"{base}?Action=login&SigninToken=nope&Destination=x")
    assert bad_token.status == 400


def test_awsra_federation_helpers_work_against_the_sandbox(scenario: Scenario) -> None:
    from awsra.credentials import Credentials
    from awsra.federation import get_signin_token

    result = scenario.create_session().credentials
    credentials = Credentials(
        access_key_id=result["accessKeyId"],
        secret_access_key=result["secretAccessKey"],
        session_token=result["sessionToken"],
        expiration=__import__("datetime").datetime.fromisoformat(result["expiration"]),
    )
    token = get_signin_token(
        credentials, signin_url=f"{scenario.sandbox.url}/federation", max_attempts=1
    )
    assert token


def test_cli_serves_the_guide_and_writes_operator_credentials(tmp_path: Path) -> None:
    credentials_file = tmp_path / "credentials"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
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
            str(credentials_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Try:"):
                break
        url = next(
            line.split(": ", 1)[1].strip()
            for line in lines
            if line.startswith("Sandbox AWS endpoint")
        )
        assert oct(credentials_file.stat().st_mode & 0o777) == "0o600"
        assert "[sandbox-admin]" in credentials_file.read_text()

        cli_env = aws_cli_env(url, None)
        cli_env.update(
            {"AWS_SHARED_CREDENTIALS_FILE": str(credentials_file), "AWS_PROFILE": "sandbox-admin"}
        )
        who = subprocess.run(
            [
                str(Path(sys.executable).with_name("aws")),
                "sts",
                "get-caller-identity",
                "--output",
                "json",
            ],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert who.returncode == 0, who.stderr
        assert json.loads(who.stdout)["Arn"] == "arn:aws:iam::123456789012:user/sandbox-admin"
        profiles = subprocess.run(
            [
                str(Path(sys.executable).with_name("aws")),
                "rolesanywhere",
                "list-profiles",
                "--output",
                "json",
            ],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert profiles.returncode == 0, profiles.stderr
        assert [p["name"] for p in json.loads(profiles.stdout)["profiles"]] == [
            "ExampleReadOnlyAccess"
        ]
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0
