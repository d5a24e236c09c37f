"""pytest fixtures for the offline AWS sandbox.

- `aws_sandbox` (session): a started `Sandbox` on a free port, stopped at the end.
- `sandbox` (function): the same sandbox, reset (resources, faults, clock, tokens) before the test.
- `sandbox_operator` (function): an IAM user with AdministratorAccess and its `AccessKey`.
- `aws_env` (function): `AWS_ENDPOINT_URL`, region and the operator's credentials in the
  environment (via monkeypatch), so plain `boto3.client(...)` and the AWS CLI hit the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from sandbox.moto_backend import AccessKey
from sandbox.seed import create_operator
from sandbox.server import Sandbox

SANDBOX_REGION = "us-east-1"


@pytest.fixture(scope="session")
def aws_sandbox() -> Iterator[Sandbox]:
    """One sandbox for the whole test session (moto state is process-global)."""
    instance = Sandbox(host="127.0.0.1", port=0)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def sandbox(aws_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox, wiped before the test and its faults cleared after it."""
    aws_sandbox.reset()
    try:
        yield aws_sandbox
    finally:
        aws_sandbox.faults.clear()
        aws_sandbox.clock_offset = type(aws_sandbox.clock_offset)(0)


@pytest.fixture
def sandbox_operator(sandbox: Sandbox) -> AccessKey:
    """An IAM user with AdministratorAccess in the freshly reset sandbox."""
    return create_operator()


@pytest.fixture
def aws_env(
    sandbox: Sandbox, sandbox_operator: AccessKey, monkeypatch: pytest.MonkeyPatch
) -> Sandbox:
    """Point boto3 and the AWS CLI at the sandbox, signed in as the operator."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL_ROLESANYWHERE",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.url)
    monkeypatch.setenv("AWS_REGION", SANDBOX_REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", SANDBOX_REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox_operator.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox_operator.secret_access_key)
    # Keep the developer's ~/.aws out of the tests.
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # boto3's default session caches the credentials it resolved first; the operator's key
    # changes with every reset, so each test starts from a fresh default session.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return sandbox
