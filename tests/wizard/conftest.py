"""Fixtures for the enrollment wizard tests: a sandbox account shaped over HTTP with boto3."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from apps.integrations.enrollment.policies import (
    INLINE_POLICY_NAME,
    sync_role_permissions_policy,
    sync_role_trust_policy,
    target_role_trust_policy,
)

AWS_BIN = str(Path(__file__).resolve().parents[2] / ".venv" / "bin")
WIZARD = "/manage/integrations/enroll/"


def run_script(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a generated enrollment script with bash and the venv's AWS CLI."""
    path = tmp_path / "enroll.sh"
    path.write_text(script)
    environ = dict(os.environ)
    environ["PATH"] = f"{AWS_BIN}:{environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        ["bash", str(path)], env=environ, capture_output=True, text=True, timeout=300, check=False
    )


@dataclass
class Account:
    """The sandbox account: Rolegate's resources (as the script makes them) and app profiles."""

    iam: Any
    ra: Any
    anchor_arn: str = ""
    sync_role_arn: str = ""
    sync_profile_arn: str = ""
    roles: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)

    def setup_rolegate(
        self, *, sync_actions: list[str] | None = None, ca_bundle: str | None = None
    ) -> Account:
        """Create the trust anchor, sync role and sync profile as the script does."""
        from apps.authority.selectors import ca_bundle_pem

        self.anchor_arn = self.ra.create_trust_anchor(
            name="RolegateTrustAnchor",
            source={
                "sourceType": "CERTIFICATE_BUNDLE",
                "sourceData": {"x509CertificateData": ca_bundle or ca_bundle_pem()},
            },
            enabled=True,
        )["trustAnchor"]["trustAnchorArn"]
        self.sync_role_arn = self.iam.create_role(
            RoleName="RolegateProfileSync",
            AssumeRolePolicyDocument=json.dumps(sync_role_trust_policy(self.anchor_arn)),
        )["Role"]["Arn"]
        policy = sync_role_permissions_policy()
        if sync_actions is not None:
            policy["Statement"][0]["Action"] = sync_actions
        self.iam.put_role_policy(
            RoleName="RolegateProfileSync",
            PolicyName=INLINE_POLICY_NAME,
            PolicyDocument=json.dumps(policy),
        )
        self.sync_profile_arn = self.ra.create_profile(
            name="RolegateProfileSync",
            roleArns=[self.sync_role_arn],
            enabled=True,
            acceptRoleSessionName=True,
        )["profile"]["profileArn"]
        return self

    def add_role(self, name: str, trust_policy: dict[str, Any]) -> str:
        arn: str = self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy)
        )["Role"]["Arn"]
        self.roles[name] = arn
        return arn

    def add_profile(
        self,
        name: str,
        roles: list[str],
        *,
        enabled: bool = True,
        tags: dict[str, str] | None = None,
    ) -> str:
        arn: str = self.ra.create_profile(
            name=name,
            roleArns=roles,
            enabled=enabled,
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )["profile"]["profileArn"]
        self.profiles[name] = arn
        return arn

    def add_app_profiles(self) -> None:
        """Profiles that exercise every warning: good, no roles, untrusting roles, disabled."""
        good = self.add_role("ExampleReadOnlyAccess", target_role_trust_policy())
        no_trust = self.add_role(
            "Ec2Only",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
        )
        other_anchor = self.add_role(
            "OtherAnchorOnly",
            target_role_trust_policy(
                "arn:aws:rolesanywhere:us-east-1:123456789012:"
                "trust-anchor/00000000-0000-0000-0000-000000000000"
            ),
        )
        self.add_profile("Team-A", [good], tags={"env": "prod", "team": "a"})
        self.add_profile("Team-B", [good, no_trust])
        self.add_profile("Empty", [])
        self.add_profile("Legacy", [other_anchor])
        self.add_profile("Off", [good], enabled=False)


@pytest.fixture
def fast_sync(settings: Any) -> Any:
    """No client-side pacing and short timeouts, so AWS failures surface in seconds."""
    settings.ROLEGATE_PROFILE_SYNC_RATE = 0
    settings.ROLEGATE_PROFILE_SYNC_TIMEOUT = 5
    settings.ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS = 2
    return settings


@pytest.fixture
def account(aws_env: Any, db: Any, fast_sync: Any) -> Account:
    """An empty sandbox account reached with the operator's credentials over HTTP."""
    session = boto3.session.Session()
    return Account(iam=session.client("iam"), ra=session.client("rolesanywhere"))


@pytest.fixture
def eager_celery(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run queued tasks in-process (the filesystem broker's queue is shared with the demo)."""
    from portal.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)
    return app
