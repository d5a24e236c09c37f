"""The kill switch scenario: the guide's account with session revocation on.

Built on tests/resources/conftest.py: the sync role may also read, put and delete the
`RolegateRevokedSessions` inline policy (as the generated script grants when revocation is
enabled); alice reaches the guide's role only through a grant she requests and carol approves;
bob holds the access role (standing). Celery runs in process (eager), so "started at once"
means: the push runs when the transaction that ended the access commits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from apps.access.requests import services as requests
from apps.access.services import role_create
from apps.integrations.models import Integration
from apps.integrations.revocation.policy import POLICY_NAME
from apps.integrations.services import integration_apply
from apps.integrations.spec import integration_spec_from_document
from portal.celery import app as celery_app
from tests.api.conftest import token_for  # noqa: F401 - fixture
from tests.resources.conftest import (  # noqa: F401 - fixture
    ACCESS_ROLE,
    INTEGRATION,
    LaunchScenario,
    launch_scenario,
)

REVOCATION_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RolegateSessionRevocation",
            "Effect": "Allow",
            "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": "arn:aws:iam::123456789012:role/*",
        }
    ],
}


def enable_revocation(scenario: LaunchScenario, enabled: bool = True) -> Integration:
    """Apply the integration again with `session_revocation: {enabled: ...}`."""
    integration = Integration.objects.get(name=INTEGRATION)
    document = {
        "kind": "integration",
        "sub_kind": "aws-ra",
        "version": "v1",
        "metadata": {"name": INTEGRATION},
        "spec": {
            "aws_ra": {
                "trust_anchor_arn": integration.trust_anchor_arn,
                "profile_sync_config": {
                    "enabled": True,
                    "profile_arn": integration.sync_profile_arn,
                    "role_arn": integration.sync_role_arn,
                },
                "session_revocation": {"enabled": enabled},
            }
        },
    }
    spec = integration_spec_from_document(document)
    return integration_apply(actor=None, spec=spec, force=True, request_sync=False)


@dataclass
class KillScenario:
    """The launch scenario plus helpers for grants, credentials and S3 checks."""

    base: LaunchScenario
    carol: Any
    capture: Any

    @property
    def alice(self) -> Any:
        return self.base.alice

    @property
    def bob(self) -> Any:
        return self.base.bob

    def grant(self, user: Any, duration: str = "1h") -> Any:
        """Request the access role for `user` and have carol approve it."""
        created = requests.access_request_create(
            actor=user, roles=[ACCESS_ROLE], reason="incident", duration=duration
        )
        with self.capture(execute=True):
            requests.access_request_review(
                actor=self.carol, request_id=created.pk, decision="approve"
            )
        created.refresh_from_db()
        return created

    def end(self, access_request: Any) -> None:
        """End a grant early, running what its commit starts (the revocation push)."""
        with self.capture(execute=True):
            requests.access_request_end(
                actor=access_request.requester, request_id=access_request.pk
            )

    def credentials(self, user: Any) -> Any:
        """Credentials through the one issuance path (as the API and Launch use it)."""
        from apps.resources.services import aws_credentials_issue

        return aws_credentials_issue(
            actor=user, app_name=self.base.app.name, role_arn=self.base.role_arn, purpose="cli"
        )

    def s3(self, credentials: Any) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name="us-east-1",
        )
        return session.client("s3", endpoint_url=self.base.sandbox.url)

    def s3_works(self, credentials: Any) -> bool:
        """`aws s3 ls`: True when it works, False on AccessDenied (anything else fails)."""
        try:
            self.s3(credentials).list_buckets()
        except ClientError as error:
            code = error.response["Error"]["Code"]
        else:
            return True
        if code != "AccessDenied":
            raise AssertionError(f"expected AccessDenied, got {code}")
        return False

    def policy(self, role_name: str = "ExampleReadOnlyAccess") -> dict[str, Any] | None:
        """The revocation policy as IAM holds it (read as the operator)."""
        try:
            answer = self.base.iam.get_role_policy(RoleName=role_name, PolicyName=POLICY_NAME)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity":
                raise
            return None
        document = answer["PolicyDocument"]
        return json.loads(document) if isinstance(document, str) else dict(document)


@pytest.fixture
def kill(
    launch_scenario: LaunchScenario,  # noqa: F811 - fixture
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> KillScenario:
    """The kill switch armed on the guide's integration (see the module docstring)."""
    scenario = launch_scenario
    scenario.iam.put_role_policy(
        RoleName="RolegateProfileSync",
        PolicyName="RolegateSessionRevocation",
        PolicyDocument=json.dumps(REVOCATION_POLICY),
    )
    enable_revocation(scenario)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    role_create(
        actor=None,
        name="requester",
        spec={"allow": {"request": {"roles": ["example-*"], "max_duration": "4h"}}},
    )
    role_create(
        actor=None,
        name="guide-approver",
        spec={"allow": {"review_requests": {"roles": ["example-*"]}}},
    )
    alice, bob = scenario.alice, scenario.bob
    alice.roles = ["requester"]
    alice.email = "alice@example.test"
    alice.save(update_fields=["roles", "email"])
    bob.roles = [ACCESS_ROLE]
    bob.save(update_fields=["roles"])
    carol = make_user("carol", roles=["guide-approver"])
    return KillScenario(base=scenario, carol=carol, capture=django_capture_on_commit_callbacks)
