"""Enrollment with the kill switch: the permissions it needs, granted and checked."""

from __future__ import annotations

import json

import pytest

from apps.core.registry import ResourceError
from apps.integrations.enrollment.cloudformation import enrollment_template
from apps.integrations.enrollment.policies import (
    REVOCATION_ACTIONS,
    EnrollmentNames,
    sync_role_permissions_policy,
)
from apps.integrations.enrollment.probe import probe_configuration, trust_policy_problem
from apps.integrations.enrollment.script import enrollment_script
from apps.integrations.spec import integration_spec_from_document
from tests.revocation.conftest import KillScenario

ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/11111111-1111-1111-1111-111111111111"
)
NAMES = EnrollmentNames(integration="aws-prod")


def _revocation_statement(policy: dict[str, object]) -> list[dict[str, object]]:
    statements = policy["Statement"]
    assert isinstance(statements, list)
    return [s for s in statements if s.get("Sid") == "RolegateSessionRevocation"]


def test_permissions_are_granted_only_with_revocation_and_scoped_to_roles() -> None:
    assert _revocation_statement(sync_role_permissions_policy()) == []
    (statement,) = _revocation_statement(sync_role_permissions_policy(session_revocation=True))
    assert statement["Effect"] == "Allow"
    assert (
        statement["Action"]
        == list(REVOCATION_ACTIONS)
        == [
            "iam:GetRolePolicy",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
        ]
    )
    assert statement["Resource"] == ["arn:*:iam::*:role/*"]

    script = enrollment_script(
        names=NAMES, cluster="c", ca_bundle_pem="PEM", session_revocation=True
    )
    assert "iam:PutRolePolicy" in script
    assert "iam:PutRolePolicy" not in enrollment_script(
        names=NAMES, cluster="c", ca_bundle_pem="PEM"
    )
    template = enrollment_template(
        names=NAMES, cluster="c", ca_bundle_pem="PEM", session_revocation=True
    )
    policy = template["Resources"]["SyncRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert _revocation_statement(policy)


def test_the_doctor_reports_roles_without_set_source_identity_when_revocation_is_on() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "rolesanywhere.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    assert trust_policy_problem(policy, trust_anchor_arn=ANCHOR) == ""
    problem = trust_policy_problem(policy, trust_anchor_arn=ANCHOR, session_revocation=True)
    assert "sts:SetSourceIdentity" in problem
    policy["Statement"][0]["Action"].append("sts:SetSourceIdentity")  # type: ignore[index]
    assert trust_policy_problem(policy, trust_anchor_arn=ANCHOR, session_revocation=True) == ""


def _document(revocation: object) -> dict[str, object]:
    return {
        "kind": "integration",
        "sub_kind": "aws-ra",
        "version": "v1",
        "metadata": {"name": "aws-prod"},
        "spec": {"aws_ra": {"trust_anchor_arn": ANCHOR, "session_revocation": revocation}},
    }


def test_the_yaml_contract_shape() -> None:
    assert integration_spec_from_document(_document({"enabled": True})).session_revocation_enabled
    assert not integration_spec_from_document(
        _document({"enabled": False})
    ).session_revocation_enabled
    assert not integration_spec_from_document(_document(None)).session_revocation_enabled
    for bad, field in (
        ({"enabled": "yes"}, "spec.aws_ra.session_revocation.enabled"),
        ({"enable": True}, "spec.aws_ra.session_revocation"),
        (True, "spec.aws_ra.session_revocation"),
    ):
        with pytest.raises(ResourceError) as error:
            integration_spec_from_document(_document(bad))
        assert error.value.field == field


@pytest.mark.django_db
def test_the_wizard_test_step_checks_the_permissions(kill: KillScenario) -> None:
    from apps.integrations.models import Integration

    integration = Integration.objects.get(name="aws-prod")
    arguments = {
        "integration_name": "aws-prod-2",
        "trust_anchor_arn": integration.trust_anchor_arn,
        "profile_arn": integration.sync_profile_arn,
        "role_arn": integration.sync_role_arn,
        "session_revocation": True,
    }
    assert probe_configuration(**arguments).ok  # type: ignore[arg-type]
    # The check wrote and removed a never-matching policy: nothing is left behind.
    assert kill.policy() is None
    kill.base.iam.delete_role_policy(
        RoleName="RolegateProfileSync", PolicyName="RolegateSessionRevocation"
    )
    refused = probe_configuration(**arguments)  # type: ignore[arg-type]
    assert not refused.ok and refused.error is not None
    assert "cannot manage the revocation policy" in refused.error.title
    assert "iam:GetRolePolicy" in refused.error.detail
    # Without the kill switch the same account passes.
    arguments["session_revocation"] = False
    assert probe_configuration(**arguments).ok  # type: ignore[arg-type]
    assert json.dumps(refused.as_data())


@pytest.mark.django_db
def test_the_wizard_and_the_admin_offer_the_kill_switch(staff_user: object) -> None:
    from django.test import Client

    from apps.authority.services import ca_ensure

    ca_ensure(actor=None)
    staff_user.is_superuser = True  # type: ignore[attr-defined]
    staff_user.save()  # type: ignore[attr-defined]
    client = Client()
    client.force_login(staff_user)  # type: ignore[arg-type]
    name_step = client.get("/manage/integrations/enroll/name/").content.decode()
    assert 'name="session_revocation"' in name_step
    answer = client.post(
        "/manage/integrations/enroll/name/",
        {"name": "aws-kill", "session_revocation": "on", "action": "next"},
    )
    assert answer.status_code == 302, answer.content[:500]
    setup = client.get("/manage/integrations/enroll/setup/").content.decode()
    assert "RolegateSessionRevocation" in setup and "iam:PutRolePolicy" in setup
    assert 'id="revocation-scope"' in setup
    script = client.get("/manage/integrations/enroll/setup/rolegate-enroll.sh")
    assert script.status_code == 200 and b"iam:PutRolePolicy" in script.content
    template = client.get("/manage/integrations/enroll/setup/rolegate-enroll.yaml")
    assert template.status_code == 200 and b"RolegateSessionRevocation" in template.content
    admin_form = client.get("/admin/integrations/integration/add/").content.decode()
    assert 'name="session_revocation_enabled"' in admin_form
