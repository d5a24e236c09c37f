"""Helpers for the sandbox tests: boto3 clients, the AWS CLI, and a CreateSession scenario."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import urllib3
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from iam_rolesanywhere_session.iam_rolesanywhere_session import IAMRolesAnywhereSigner

from sandbox import Sandbox
from sandbox.moto_backend import AccessKey
from sandbox.seed import GUIDE_TRUST_POLICY
from tests.sandbox.sandbox_certs import CertificateAuthority, Leaf

AWS_CLI = Path(sys.executable).with_name("aws")
REGION = "us-east-1"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def client(
    service: str, sandbox: Sandbox, key: AccessKey | dict[str, str], config: Config | None = None
) -> Any:
    """A boto3 client for the sandbox signed with an access key or temporary credentials."""
    if isinstance(key, AccessKey):
        credentials = {
            "aws_access_key_id": key.access_key_id,
            "aws_secret_access_key": key.secret_access_key,
        }
    else:
        credentials = {
            "aws_access_key_id": key["accessKeyId"],
            "aws_secret_access_key": key["secretAccessKey"],
            "aws_session_token": key["sessionToken"],
        }
    session = boto3.Session(region_name=REGION, **credentials)  # type: ignore[arg-type]
    return session.client(  # type: ignore[call-overload]
        service, endpoint_url=sandbox.url, config=config or NO_RETRY
    )


@dataclass
class SessionResult:
    """A CreateSession answer."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    @property
    def credentials(self) -> dict[str, str]:
        return dict(self.body["credentialSet"][0]["credentials"])


@dataclass
class Scenario:
    """A CA trusted by an enabled trust anchor, a role and an enabled profile listing it."""

    sandbox: Sandbox
    operator: AccessKey
    ca: CertificateAuthority
    anchor_arn: str
    role_arn: str
    profile_arn: str
    profile_id: str
    anchor_id: str

    @property
    def rolesanywhere(self) -> Any:
        return client("rolesanywhere", self.sandbox, self.operator)

    @property
    def iam(self) -> Any:
        return client("iam", self.sandbox, self.operator)

    def leaf(self, common_name: str = "alice", **options: Any) -> Leaf:
        return self.ca.issue(common_name, **options)

    def create_session(
        self,
        leaf: Leaf | None = None,
        *,
        role_arn: str | None = None,
        profile_arn: str | None = None,
        anchor_arn: str | None = None,
        duration: int = 3600,
        session_name: str | None = None,
        chain: list[str] | None = None,
        tamper_body: bool = False,
    ) -> SessionResult:
        """POST /sessions signed by PyPI iam-rolesanywhere-session's signer."""
        leaf = leaf or self.leaf()
        body: dict[str, Any] = {
            "durationSeconds": duration,
            "profileArn": profile_arn or self.profile_arn,
            "roleArn": role_arn or self.role_arn,
            "trustAnchorArn": anchor_arn or self.anchor_arn,
        }
        if session_name is not None:
            body["roleSessionName"] = session_name
        request = AWSRequest(
            method="POST", url=f"{self.sandbox.url}/sessions", data=json.dumps(body)
        )
        signer = IAMRolesAnywhereSigner(
            certificate=leaf.pem.encode(),
            private_key=leaf.key_pem.encode(),
            certificate_chain="".join(chain).encode() if chain else None,
            region=REGION,
        )
        signer.add_auth(request)
        prepared = request.prepare()
        body_value = prepared.body
        assert isinstance(body_value, str | bytes)
        payload = body_value.encode() if isinstance(body_value, str) else body_value
        if tamper_body:
            # Same length, different bytes: the payload hash no longer matches the signature.
            payload = payload.replace(b'"durationSeconds": 3600', b'"durationSeconds": 3601')
        response = urllib3.request(
            "POST", prepared.url, body=payload, headers=dict(prepared.headers), retries=False
        )
        return SessionResult(
            response.status, json.loads(response.data or b"{}"), dict(response.headers)
        )


def make_role(
    sandbox: Sandbox,
    operator: AccessKey,
    name: str,
    *,
    trust_policy: dict[str, Any] | None = None,
    max_session_duration: int = 3600,
    inline_policy: dict[str, Any] | None = None,
    managed_policy_arn: str | None = "arn:aws:iam::aws:policy/ReadOnlyAccess",
) -> str:
    """Create an IAM role through the IAM API (as an operator would); return its ARN."""
    iam = client("iam", sandbox, operator)
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(trust_policy or GUIDE_TRUST_POLICY),
        MaxSessionDuration=max_session_duration,
    )["Role"]
    if managed_policy_arn:
        iam.attach_role_policy(RoleName=name, PolicyArn=managed_policy_arn)
    if inline_policy:
        iam.put_role_policy(
            RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline_policy)
        )
    return str(role["Arn"])


def aws_cli_env(sandbox: Sandbox | str, key: AccessKey | dict[str, str] | None) -> dict[str, str]:
    """Environment for running the AWS CLI against the sandbox (or a URL) with credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": sandbox if isinstance(sandbox, str) else sandbox.url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
    )
    if isinstance(key, AccessKey):
        env["AWS_ACCESS_KEY_ID"] = key.access_key_id
        env["AWS_SECRET_ACCESS_KEY"] = key.secret_access_key
    elif key is not None:
        env["AWS_ACCESS_KEY_ID"] = key["accessKeyId"]
        env["AWS_SECRET_ACCESS_KEY"] = key["secretAccessKey"]
        env["AWS_SESSION_TOKEN"] = key["sessionToken"]
    return env


def run_aws_cli_raw(
    sandbox: Sandbox, key: AccessKey | dict[str, str] | None, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `aws ARGS...` against the sandbox; return the completed process."""
    return subprocess.run(
        [str(AWS_CLI), *args, "--output", "json"],
        env=aws_cli_env(sandbox, key),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def run_aws_cli(
    sandbox: Sandbox, key: AccessKey | dict[str, str] | None, *args: str, cwd: Path | None = None
) -> Any:
    """Run `aws ARGS...`, insist on success, return the parsed JSON output (or None)."""
    completed = run_aws_cli_raw(sandbox, key, *args, cwd=cwd)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else None
