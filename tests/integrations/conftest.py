"""Fixtures for the profile-sync tests: an AWS account in the sandbox, set up as the reference
guide's step 1 does (trust anchor over Rolegate's CA, sync role and sync profile), over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.management import call_command

from sandbox.seed import GUIDE_TRUST_POLICY

SYNC_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RolesAnywhereProfileSync",
            "Effect": "Allow",
            "Action": [
                "rolesanywhere:ListProfiles",
                "rolesanywhere:ListTagsForResource",
                "rolesanywhere:ImportCrl",
                "rolesanywhere:ListCrls",
                "rolesanywhere:UpdateCrl",
                "iam:GetRole",
            ],
            "Resource": ["*"],
        }
    ],
}


@dataclass
class Account:
    """The sandbox account an integration syncs: call `add_profile` to shape it."""

    sandbox: Any
    iam: Any
    ra: Any
    anchor_arn: str = ""
    sync_role_arn: str = ""
    sync_profile_arn: str = ""
    app_role_arn: str = ""
    profiles: dict[str, str] = field(default_factory=dict)

    def setup(self, *, sync_actions: list[str] | None = None) -> Account:
        from apps.authority.selectors import ca_bundle_pem

        policy = json.loads(json.dumps(SYNC_POLICY))
        if sync_actions is not None:
            policy["Statement"][0]["Action"] = sync_actions
        self.sync_role_arn = self.iam.create_role(
            RoleName="RolegateProfileSync",
            AssumeRolePolicyDocument=json.dumps(GUIDE_TRUST_POLICY),
        )["Role"]["Arn"]
        self.iam.put_role_policy(
            RoleName="RolegateProfileSync",
            PolicyName="RolegateRolesAnywhereProfileSync",
            PolicyDocument=json.dumps(policy),
        )
        self.app_role_arn = self.iam.create_role(
            RoleName="ExampleReadOnlyAccess",
            AssumeRolePolicyDocument=json.dumps(GUIDE_TRUST_POLICY),
        )["Role"]["Arn"]
        self.anchor_arn = self.ra.create_trust_anchor(
            name="RolegateCA",
            source={
                "sourceType": "CERTIFICATE_BUNDLE",
                "sourceData": {"x509CertificateData": ca_bundle_pem()},
            },
            enabled=True,
        )["trustAnchor"]["trustAnchorArn"]
        self.sync_profile_arn = self.ra.create_profile(
            name="RolegateProfileSync", roleArns=[self.sync_role_arn], enabled=True
        )["profile"]["profileArn"]
        return self

    def add_profile(
        self,
        name: str,
        *,
        tags: dict[str, str] | None = None,
        enabled: bool = True,
        roles: list[str] | None = None,
        accept_role_session_name: bool = False,
        duration_seconds: int = 3600,
    ) -> str:
        """Create a profile (with tags) through the control plane; return its ARN."""
        arn: str = self.ra.create_profile(
            name=name,
            roleArns=roles if roles is not None else [self.app_role_arn],
            enabled=enabled,
            acceptRoleSessionName=accept_role_session_name,
            durationSeconds=duration_seconds,
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )["profile"]["profileArn"]
        self.profiles[name] = arn
        return arn

    def profile_id(self, name: str) -> str:
        return self.profiles[name].rsplit("/", 1)[1]

    def disable(self, name: str) -> None:
        self.ra.disable_profile(profileId=self.profile_id(name))

    def delete(self, name: str) -> None:
        self.ra.delete_profile(profileId=self.profile_id(name))

    def tag(self, name: str, tags: dict[str, str]) -> None:
        self.ra.tag_resource(
            resourceArn=self.profiles[name],
            tags=[{"key": k, "value": v} for k, v in tags.items()],
        )

    def integration_yaml(
        self,
        name: str = "aws-prod",
        *,
        filters: list[str] | None = None,
        accepts_session_name: bool = False,
    ) -> str:
        """The guide's roles-anywhere-integration.yaml for this account."""
        lines = [
            "kind: integration",
            "sub_kind: aws-ra",
            "version: v1",
            "metadata:",
            f"  name: {name}",
            "spec:",
            "  aws_ra:",
            f"    trust_anchor_arn: {self.anchor_arn}",
            "    profile_sync_config:",
            "      enabled: true",
            f"      profile_arn: {self.sync_profile_arn}",
            f"      role_arn: {self.sync_role_arn}",
        ]
        if accepts_session_name:
            lines.append("      profile_accepts_role_session_name: true")
        if filters is not None:
            lines.append(f"      profile_name_filters: {json.dumps(filters)}")
        return "\n".join(lines) + "\n"


@pytest.fixture
def sync_settings(settings: Any) -> Any:
    """No client-side pacing and short timeouts, so fault tests finish in seconds."""
    settings.ROLEGATE_PROFILE_SYNC_RATE = 0
    settings.ROLEGATE_PROFILE_SYNC_TIMEOUT = 2
    settings.ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS = 2
    return settings


@pytest.fixture
def account(aws_env: Any, db: Any, sync_settings: Any) -> Account:
    """A sandbox account with Rolegate's trust anchor, sync role and sync profile."""
    # A fresh session: boto3's default one caches the previous test's (deleted) operator key.
    session = boto3.session.Session()
    return Account(
        sandbox=aws_env, iam=session.client("iam"), ra=session.client("rolesanywhere")
    ).setup()


@pytest.fixture
def create_integration(tmp_path: Path) -> Any:
    """Run `manage.py create -f` on a YAML text (as the guide does)."""

    def create(text: str, *, force: bool = False) -> None:
        path = tmp_path / "integration.yaml"
        path.write_text(text)
        args = ["create", "-f", str(path)]
        if force:
            args.append("--force")
        call_command(*args)

    return create
