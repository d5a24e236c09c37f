"""Fixtures for the sandbox tests: a PKI and a ready CreateSession scenario.

The `aws_sandbox`/`sandbox`/`sandbox_operator`/`aws_env` fixtures come from
`sandbox.pytest_plugin`, registered by tests/conftest.py.
"""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from sandbox.moto_backend import AccessKey
from tests.sandbox.sandbox_certs import CertificateAuthority, make_ca
from tests.sandbox.sandbox_helpers import Scenario, client, make_role


@pytest.fixture
def pki() -> CertificateAuthority:
    """A fresh root CA."""
    return make_ca()


@pytest.fixture
def scenario(sandbox: Sandbox, sandbox_operator: AccessKey, pki: CertificateAuthority) -> Scenario:
    """Everything CreateSession needs, created through the control plane with boto3."""
    ra = client("rolesanywhere", sandbox, sandbox_operator)
    anchor = ra.create_trust_anchor(
        name="RolegateCA",
        source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pki.pem}},
        enabled=True,
    )["trustAnchor"]
    role_arn = make_role(sandbox, sandbox_operator, "ExampleReadOnlyAccess")
    profile = ra.create_profile(
        name="ExampleReadOnlyAccess",
        roleArns=[role_arn],
        enabled=True,
        acceptRoleSessionName=True,
    )["profile"]
    return Scenario(
        sandbox=sandbox,
        operator=sandbox_operator,
        ca=pki,
        anchor_arn=anchor["trustAnchorArn"],
        anchor_id=anchor["trustAnchorId"],
        role_arn=role_arn,
        profile_arn=profile["profileArn"],
        profile_id=profile["profileId"],
    )
