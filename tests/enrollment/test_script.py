"""The enrollment script runs with bash and the AWS CLI against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

import awsra
from apps.authority.selectors import ca_bundle_pem
from apps.authority.services import certificate_issue
from apps.integrations.enrollment.cloudformation import (
    enrollment_template,
    enrollment_template_yaml,
)
from apps.integrations.enrollment.policies import (
    INLINE_POLICY_NAME,
    EnrollmentNames,
    sync_role_permissions_policy,
)
from apps.integrations.enrollment.script import MARKER, enrollment_script, parse_script_output

AWS_BIN = str(Path(__file__).resolve().parents[2] / ".venv" / "bin")
NAMES = EnrollmentNames(integration="aws-demo")


def run_script(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "enroll.sh"
    path.write_text(script)
    environ = dict(os.environ)
    environ["PATH"] = f"{AWS_BIN}:{environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        ["bash", str(path)], env=environ, capture_output=True, text=True, timeout=180, check=False
    )


def snapshot(client: Any, iam: Any) -> dict[str, Any]:
    anchors = client.list_trust_anchors()["trustAnchors"]
    profiles = client.list_profiles()["profiles"]
    role = iam.get_role(RoleName=NAMES.sync_role)["Role"]
    return {
        "anchors": [(a["name"], a["enabled"], a["updatedAt"], a["source"]) for a in anchors],
        "profiles": [(p["name"], p["enabled"], p["updatedAt"], p["roleArns"]) for p in profiles],
        "role": (role["Arn"], json.dumps(role["AssumeRolePolicyDocument"], sort_keys=True)),
        "policy": iam.get_role_policy(RoleName=NAMES.sync_role, PolicyName=INLINE_POLICY_NAME)[
            "PolicyDocument"
        ],
    }


@pytest.mark.django_db
def test_script_creates_working_resources_and_is_idempotent(aws_env: Any, tmp_path: Path) -> None:
    bundle = ca_bundle_pem()
    script = enrollment_script(names=NAMES, cluster="rolegate", ca_bundle_pem=bundle)
    first = run_script(script, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(MARKER) == 2
    arns = parse_script_output(first.stdout)
    assert set(arns) == {"trust_anchor_arn", "profile_arn", "role_arn"}
    assert arns["role_arn"] == f"arn:aws:iam::123456789012:role/{NAMES.sync_role}"

    client = boto3.client("rolesanywhere")
    iam = boto3.client("iam")
    anchor = client.get_trust_anchor(trustAnchorId=arns["trust_anchor_arn"].rsplit("/", 1)[1])
    assert (
        anchor["trustAnchor"]["source"]["sourceData"]["x509CertificateData"].strip()
        == bundle.strip()
    )
    tags = client.list_tags_for_resource(resourceArn=arns["profile_arn"])["tags"]
    assert {"key": "rolegate.dev/integration", "value": "aws-demo"} in tags
    trust = iam.get_role(RoleName=NAMES.sync_role)["Role"]["AssumeRolePolicyDocument"]
    condition = trust["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert condition == arns["trust_anchor_arn"]

    # The resources work: Rolegate signs in as itself and lists the profiles.
    leaf = certificate_issue(subject_cn="rolegate-profile-sync", purpose="test", actor=None)
    credentials = awsra.create_session(
        certificate=leaf.certificate,
        private_key=leaf.private_key,
        trust_anchor_arn=arns["trust_anchor_arn"],
        profile_arn=arns["profile_arn"],
        role_arn=arns["role_arn"],
        role_session_name="rolegate-profile-sync",
        endpoint_url=aws_env.url,
    )
    as_sync_role = boto3.client(
        "rolesanywhere",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )
    names = [profile["name"] for profile in as_sync_role.list_profiles()["profiles"]]
    assert NAMES.sync_profile in names

    before = snapshot(client, iam)
    second = run_script(script, tmp_path)
    assert second.returncode == 0, second.stderr
    assert parse_script_output(second.stdout) == arns
    assert snapshot(client, iam) == before
    assert "Creating" not in second.stderr and "Updating" not in second.stderr


@pytest.mark.django_db
def test_script_refuses_a_role_it_did_not_create(aws_env: Any, tmp_path: Path) -> None:
    iam = boto3.client("iam")
    iam.create_role(
        RoleName=NAMES.sync_role,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    result = run_script(
        enrollment_script(names=NAMES, cluster="rolegate", ca_bundle_pem=ca_bundle_pem()), tmp_path
    )
    assert result.returncode != 0
    assert f"IAM role {NAMES.sync_role} exists but was not created by Rolegate" in result.stderr
    assert (
        iam.get_role(RoleName=NAMES.sync_role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
        == []
    )
    assert MARKER not in result.stdout


def test_script_quotes_every_value() -> None:
    script = enrollment_script(
        names=NAMES, cluster="it's; rm -rf /", ca_bundle_pem="-----BEGIN CERTIFICATE-----\nAA\n"
    )
    assert "CLUSTER='it'\"'\"'s; rm -rf /'" in script
    result = subprocess.run(
        ["bash", "-n"], input=script, text=True, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_parse_script_output_ignores_noise() -> None:
    text = (
        "Creating things\n" + MARKER + "\n"
        '  "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/abc"\n'
        "arn:aws:iam::123456789012:role/RolegateProfileSync\n"
        "arn:aws:rolesanywhere:us-east-1:123456789012:profile/def\n" + MARKER + "\n"
    )
    assert parse_script_output(text) == {
        "trust_anchor_arn": "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/abc",
        "role_arn": "arn:aws:iam::123456789012:role/RolegateProfileSync",
        "profile_arn": "arn:aws:rolesanywhere:us-east-1:123456789012:profile/def",
    }
    assert parse_script_output("nothing here") == {}


def test_cloudformation_declares_what_the_script_creates() -> None:
    text = enrollment_template_yaml(names=NAMES, cluster="rolegate", ca_bundle_pem="PEM")
    template = yaml.safe_load(text)
    assert template == enrollment_template(names=NAMES, cluster="rolegate", ca_bundle_pem="PEM")
    resources = template["Resources"]
    assert {name: resource["Type"] for name, resource in resources.items()} == {
        "TrustAnchor": "AWS::RolesAnywhere::TrustAnchor",
        "SyncRole": "AWS::IAM::Role",
        "SyncProfile": "AWS::RolesAnywhere::Profile",
    }
    role = resources["SyncRole"]["Properties"]
    assert role["RoleName"] == NAMES.sync_role
    assert role["Policies"] == [
        {"PolicyName": INLINE_POLICY_NAME, "PolicyDocument": sync_role_permissions_policy()}
    ]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "rolesanywhere.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["TrustAnchor", "TrustAnchorArn"]
    }
    profile = resources["SyncProfile"]["Properties"]
    assert profile["AcceptRoleSessionName"] is True
    assert profile["Name"] == NAMES.sync_profile
    assert resources["TrustAnchor"]["Properties"]["Name"] == NAMES.trust_anchor
    # The script embeds the same permissions policy, byte for byte.
    script = enrollment_script(names=NAMES, cluster="rolegate", ca_bundle_pem="PEM")
    assert json.dumps(sync_role_permissions_policy(), separators=(",", ":")) in script


def test_names_are_validated() -> None:
    assert EnrollmentNames(integration="x").errors() == {}
    bad = EnrollmentNames(
        integration="x", trust_anchor="has space", sync_role="r" * 65, sync_profile="semi;colon"
    )
    assert set(bad.errors()) == {"trust_anchor", "sync_role", "sync_profile"}
