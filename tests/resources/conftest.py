"""The reference guide's whole scenario, built from the apps' public services over real HTTP.

`launch_scenario` gives: an AWS account in the sandbox prepared as the guide's step 1 does
(trust anchor holding Rolegate's CA bundle, profile-sync role and profile), the guide's
ExampleReadOnlyAccess role and profile (step 2), an `aws-ra` integration synced into apps by
the real profile sync, the guide's access role (step 3) and three personas: `alice` (holds the
role), `bob` (no roles) and anonymous. Rolegate's AWS calls (CreateSession, getSigninToken) go
to the sandbox through `AWS_ENDPOINT_URL` and `ROLEGATE_AWS_SIGNIN_URL`, as in production.

Other test packages (the CLI API) reuse it by importing the fixture into their conftest:
`from tests.resources.conftest import LaunchScenario, launch_scenario  # noqa: F401`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from sandbox.seed import GUIDE_TRUST_POLICY

INTEGRATION = "aws-prod"
ACCESS_ROLE = "example-read-only-access"
GUIDE_NAME = "ExampleReadOnlyAccess"

_SYNC_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
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
class LaunchScenario:
    """Handles on everything the guide's scenario created (see the module docstring)."""

    sandbox: Any
    iam: Any
    ra: Any
    anchor_arn: str
    sync_role_arn: str
    sync_profile_arn: str
    role_arn: str
    profile_arn: str
    alice: Any
    bob: Any
    apps: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        """The guide's app (`exampleReadOnlyAccess-aws-prod`, sanitized)."""
        return self.apps[GUIDE_NAME]

    def create_role(self, name: str, *, with_console_trust: bool = True) -> str:
        """Create an IAM role in the sandbox (trusting Roles Anywhere unless told otherwise)."""
        policy = GUIDE_TRUST_POLICY
        if not with_console_trust:
            # Trusts another service only: Roles Anywhere's AssumeRole must fail.
            policy = json.loads(json.dumps(GUIDE_TRUST_POLICY))
            policy["Statement"][0]["Principal"] = {"Service": "ec2.amazonaws.com"}
        arn: str = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))[
            "Role"
        ]["Arn"]
        return arn

    def add_profile(
        self,
        name: str,
        *,
        roles: list[str] | None = None,
        accept_role_session_name: bool = False,
        duration_seconds: int = 3600,
        tags: dict[str, str] | None = None,
    ) -> Any:
        """Create a Roles Anywhere profile, run the profile sync, return the synced AwsApp."""
        arn: str = self.ra.create_profile(
            name=name,
            roleArns=roles if roles is not None else [self.role_arn],
            enabled=True,
            acceptRoleSessionName=accept_role_session_name,
            durationSeconds=duration_seconds,
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )["profile"]["profileArn"]
        self.sync()
        from apps.resources.models import AwsApp

        app = AwsApp.objects.select_related("integration").get(profile_arn=arn)
        self.apps[name] = app
        return app

    def sync(self) -> None:
        """Run the real profile sync now and insist that it succeeded."""
        from apps.integrations.services import integration_sync

        outcome = integration_sync(name=INTEGRATION)
        assert outcome.status == "SUCCESS", outcome.error_message

    def console_arn(self, session_name: str, role_name: str = GUIDE_NAME) -> str:
        """The assumed-role ARN the sandbox console shows for a session."""
        account = self.role_arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"


@pytest.fixture
def launch_scenario(
    sandbox: Any, db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> LaunchScenario:
    """The reference guide's steps 1-3 done, ready for step 4 (launch or CLI credentials)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_ROLESANYWHERE", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(name, raising=False)
    return build_launch_scenario(sandbox, setenv=monkeypatch.setenv, settings=settings)


def build_launch_scenario(
    sandbox: Any, *, setenv: Callable[[str, str], None], settings: Any
) -> LaunchScenario:
    """Build the scenario in a freshly reset sandbox (the fixture's body; the benchmark too).

    `setenv` and `settings` are the test's monkeypatch and settings fixtures, so everything is
    undone after the test.
    """
    from apps.access.services import role_create
    from apps.accounts.models import User
    from apps.authority.selectors import ca_bundle_pem
    from apps.integrations.services import integration_apply
    from apps.integrations.spec import integration_spec_from_document
    from sandbox.seed import create_operator

    # Rolegate reaches AWS the way production does, only at another URL.
    operator = create_operator()
    setenv("AWS_ENDPOINT_URL", sandbox.url)
    setenv("ROLEGATE_AWS_SIGNIN_URL", sandbox.url)
    setenv("AWS_REGION", "us-east-1")
    setenv("AWS_DEFAULT_REGION", "us-east-1")
    setenv("AWS_CONFIG_FILE", "/dev/null")
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    settings.ROLEGATE_PROFILE_SYNC_RATE = 0
    settings.ROLEGATE_PROFILE_SYNC_TIMEOUT = 5
    settings.ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS = 2
    settings.ROLEGATE_PUBLIC_URL = "https://rolegate.example.test"

    session = boto3.session.Session(
        aws_access_key_id=operator.access_key_id,
        aws_secret_access_key=operator.secret_access_key,
        region_name="us-east-1",
    )
    iam = session.client("iam", endpoint_url=sandbox.url)
    ra = session.client("rolesanywhere", endpoint_url=sandbox.url)

    # Step 1: trust anchor over Rolegate's CA, the profile-sync role and profile.
    anchor_arn = ra.create_trust_anchor(
        name="RolegateCA",
        source={
            "sourceType": "CERTIFICATE_BUNDLE",
            "sourceData": {"x509CertificateData": ca_bundle_pem()},
        },
        enabled=True,
    )["trustAnchor"]["trustAnchorArn"]
    sync_role_arn = iam.create_role(
        RoleName="RolegateProfileSync", AssumeRolePolicyDocument=json.dumps(GUIDE_TRUST_POLICY)
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="RolegateProfileSync",
        PolicyName="RolegateProfileSync",
        PolicyDocument=json.dumps(_SYNC_POLICY),
    )
    sync_profile_arn = ra.create_profile(
        name="RolegateProfileSync", roleArns=[sync_role_arn], enabled=True
    )["profile"]["profileArn"]
    spec = integration_spec_from_document(
        {
            "kind": "integration",
            "sub_kind": "aws-ra",
            "version": "v1",
            "metadata": {"name": INTEGRATION},
            "spec": {
                "aws_ra": {
                    "trust_anchor_arn": anchor_arn,
                    "profile_sync_config": {
                        "enabled": True,
                        "profile_arn": sync_profile_arn,
                        "role_arn": sync_role_arn,
                    },
                }
            },
        }
    )
    integration_apply(actor=None, spec=spec, request_sync=False)

    # Step 2: the guide's role (read-only) in its profile; the profile accepts session names
    # so the console shows the username, as the guide's checkpoint expects.
    role_arn = iam.create_role(
        RoleName=GUIDE_NAME, AssumeRolePolicyDocument=json.dumps(GUIDE_TRUST_POLICY)
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName=GUIDE_NAME, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")

    # Step 3: the access role, assigned to alice only.
    role_create(
        actor=None,
        name=ACCESS_ROLE,
        spec={
            "allow": {
                "app_labels": {"rolegate.dev/integration": INTEGRATION},
                "aws_role_arns": [role_arn],
            }
        },
    )
    alice = User.objects.create_user(username="alice", password="correct horse battery")
    alice.roles = [ACCESS_ROLE]
    alice.save(update_fields=["roles"])
    bob = User.objects.create_user(username="bob", password="correct horse battery")

    scenario = LaunchScenario(
        sandbox=sandbox,
        iam=iam,
        ra=ra,
        anchor_arn=anchor_arn,
        sync_role_arn=sync_role_arn,
        sync_profile_arn=sync_profile_arn,
        role_arn=role_arn,
        profile_arn="",
        alice=alice,
        bob=bob,
    )
    app = scenario.add_profile(GUIDE_NAME, accept_role_session_name=True)
    scenario.profile_arn = app.profile_arn
    return scenario
