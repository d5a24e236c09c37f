"""Roles Anywhere control plane through boto3 and the AWS CLI, with IAM authorization."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox import Sandbox
from sandbox.moto_backend import AccessKey
from tests.sandbox.sandbox_certs import CertificateAuthority
from tests.sandbox.sandbox_helpers import (
    NO_RETRY,
    Scenario,
    client,
    make_role,
    run_aws_cli,
    run_aws_cli_raw,
)

SYNC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RolesAnywhereProfileSync",
            "Effect": "Allow",
            "Action": [
                "rolesanywhere:ListProfiles",
                "rolesanywhere:ListTagsForResource",
                "rolesanywhere:ImportCrl",
                "iam:GetRole",
            ],
            "Resource": ["*"],
        }
    ],
}


def test_boto3_creates_anchor_role_profile_and_pages_through_profiles(
    aws_env: Sandbox, pki: CertificateAuthority
) -> None:
    # Plain clients: endpoint, region and credentials all come from the aws_env fixture.
    ra = boto3.client("rolesanywhere", config=NO_RETRY)
    iam = boto3.client("iam", config=NO_RETRY)
    anchor = ra.create_trust_anchor(
        name="RolegateCA",
        source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pki.pem}},
        enabled=True,
        tags=[{"key": "team", "value": "platform"}],
    )["trustAnchor"]
    assert anchor["enabled"] is True
    assert anchor["source"]["sourceData"]["x509CertificateData"] == pki.pem
    assert ra.get_trust_anchor(trustAnchorId=anchor["trustAnchorId"])["trustAnchor"] == anchor

    role_arn = iam.create_role(
        RoleName="Reader",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    names = [f"profile-{index}" for index in range(5)]
    for name in names:
        ra.create_profile(name=name, roleArns=[role_arn], enabled=True, durationSeconds=1800)

    pages = list(ra.get_paginator("list_profiles").paginate(pageSize=2))
    assert [len(page["profiles"]) for page in pages] == [2, 2, 1]
    assert [p["name"] for page in pages for p in page["profiles"]] == names
    first = pages[0]["profiles"][0]
    assert first["roleArns"] == [role_arn]
    assert first["durationSeconds"] == 1800
    assert first["attributeMappings"][0]["certificateField"] == "x509Subject"

    ra.tag_resource(resourceArn=first["profileArn"], tags=[{"key": "Env", "value": "prod"}])
    assert ra.list_tags_for_resource(resourceArn=first["profileArn"])["tags"] == [
        {"key": "Env", "value": "prod"}
    ]
    ra.untag_resource(resourceArn=first["profileArn"], tagKeys=["Env"])
    assert ra.list_tags_for_resource(resourceArn=first["profileArn"])["tags"] == []
    assert ra.list_tags_for_resource(resourceArn=anchor["trustAnchorArn"])["tags"] == [
        {"key": "team", "value": "platform"}
    ]

    ra.delete_profile(profileId=first["profileId"])
    with pytest.raises(ClientError) as raised:
        ra.get_profile(profileId=first["profileId"])
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_boto3_imports_and_manages_a_crl(scenario: Scenario) -> None:
    ra = scenario.rolesanywhere
    crl_pem = scenario.ca.crl([1234])
    crl = ra.import_crl(name="ca-crl", crlData=crl_pem, trustAnchorArn=scenario.anchor_arn)["crl"]
    assert crl["enabled"] is False
    assert crl["crlData"] == crl_pem
    assert ra.enable_crl(crlId=crl["crlId"])["crl"]["enabled"] is True
    assert [c["crlId"] for c in ra.list_crls()["crls"]] == [crl["crlId"]]
    assert ra.update_crl(crlId=crl["crlId"], name="renamed")["crl"]["name"] == "renamed"
    ra.delete_crl(crlId=crl["crlId"])
    assert ra.list_crls()["crls"] == []


def test_import_crl_rejects_garbage(scenario: Scenario) -> None:
    with pytest.raises(ClientError) as raised:
        scenario.rolesanywhere.import_crl(
            name="bad", crlData=b"not a crl", trustAnchorArn=scenario.anchor_arn
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_trust_anchor_needs_ca_certificates(scenario: Scenario) -> None:
    leaf = scenario.leaf("not-a-ca")
    with pytest.raises(ClientError) as raised:
        scenario.rolesanywhere.create_trust_anchor(
            name="bad",
            source={
                "sourceType": "CERTIFICATE_BUNDLE",
                "sourceData": {"x509CertificateData": leaf.pem},
            },
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "CA:true" in raised.value.response["Error"]["Message"]


def test_server_side_validation_follows_the_service_model(
    sandbox: Sandbox, sandbox_operator: AccessKey
) -> None:
    unvalidated = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    ra = client("rolesanywhere", sandbox, sandbox_operator, config=unvalidated)
    with pytest.raises(ClientError) as raised:
        ra.create_profile(name="p", roleArns=[], durationSeconds=60)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "durationSeconds" in error["Message"]
    with pytest.raises(ClientError) as raised:
        ra.create_profile(name="bad/name!", roleArns=[])
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_unsigned_and_badly_signed_calls_are_refused(
    sandbox: Sandbox, sandbox_operator: AccessKey
) -> None:
    response = urllib3.request("GET", f"{sandbox.url}/profiles", retries=False)
    assert response.status == 403
    assert response.headers["X-Amzn-ErrorType"] == "MissingAuthenticationTokenException"

    forged = AccessKey("x", sandbox_operator.access_key_id, "wrong-secret")
    with pytest.raises(ClientError) as raised:
        client("rolesanywhere", sandbox, forged).list_profiles()
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"

    unknown = AccessKey("x", "AKIAIOSFODNN7EXAMPLE", "secret")
    with pytest.raises(ClientError) as raised:
        client("rolesanywhere", sandbox, unknown).list_profiles()
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_sync_role_without_list_profiles_is_denied(scenario: Scenario) -> None:
    too_narrow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
    }
    narrow_arn = make_role(
        scenario.sandbox,
        scenario.operator,
        "NarrowSync",
        inline_policy=too_narrow,
        managed_policy_arn=None,
    )
    sync_arn = make_role(
        scenario.sandbox,
        scenario.operator,
        "RolegateProfileSync",
        inline_policy=SYNC_POLICY,
        managed_policy_arn=None,
    )
    scenario.rolesanywhere.update_profile(
        profileId=scenario.profile_id, roleArns=[narrow_arn, sync_arn]
    )

    narrow = scenario.create_session(role_arn=narrow_arn)
    with pytest.raises(ClientError) as raised:
        client("rolesanywhere", scenario.sandbox, narrow.credentials).list_profiles()
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "rolesanywhere:ListProfiles" in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    sync = scenario.create_session(role_arn=sync_arn)
    ra = client("rolesanywhere", scenario.sandbox, sync.credentials)
    profiles = ra.list_profiles()["profiles"]
    assert [p["profileArn"] for p in profiles] == [scenario.profile_arn]
    assert ra.list_tags_for_resource(resourceArn=scenario.profile_arn)["tags"] == []
    with pytest.raises(ClientError) as raised:
        ra.create_profile(name="nope", roleArns=[])
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    iam = client("iam", scenario.sandbox, sync.credentials)
    assert iam.get_role(RoleName="RolegateProfileSync")["Role"]["Arn"] == sync_arn


def test_aws_cli_creates_anchor_role_profile_pages_and_imports_crl(
    sandbox: Sandbox, sandbox_operator: AccessKey, pki: CertificateAuthority, tmp_path: Path
) -> None:
    source = {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pki.pem}}
    (tmp_path / "source.json").write_text(json.dumps(source))
    (tmp_path / "trust.json").write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
                        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
                    }
                ],
            }
        )
    )
    (tmp_path / "crl.pem").write_bytes(pki.crl([42]))

    def aws(*args: str) -> Any:
        return run_aws_cli(sandbox, sandbox_operator, *args, cwd=tmp_path)

    anchor = aws(
        "rolesanywhere",
        "create-trust-anchor",
        "--name",
        "RolegateCA",
        "--source",
        "file://source.json",
        "--enabled",
    )["trustAnchor"]
    role = aws(
        "iam",
        "create-role",
        "--role-name",
        "RolegateProfileSync",
        "--assume-role-policy-document",
        "file://trust.json",
    )["Role"]
    for index in range(3):
        aws(
            "rolesanywhere",
            "create-profile",
            "--name",
            f"cli-profile-{index}",
            "--role-arns",
            role["Arn"],
            "--enabled",
        )
    listed = aws("rolesanywhere", "list-profiles", "--page-size", "1")
    assert sorted(p["name"] for p in listed["profiles"]) == [
        "cli-profile-0",
        "cli-profile-1",
        "cli-profile-2",
    ]
    first_page = aws("rolesanywhere", "list-profiles", "--max-items", "1")
    assert len(first_page["profiles"]) == 1
    assert first_page["NextToken"]

    crl = aws(
        "rolesanywhere",
        "import-crl",
        "--name",
        "rolegate-crl",
        "--crl-data",
        "fileb://crl.pem",
        "--trust-anchor-arn",
        anchor["trustAnchorArn"],
        "--enabled",
    )["crl"]
    assert crl["enabled"] is True
    assert aws("rolesanywhere", "list-crls")["crls"][0]["crlArn"] == crl["crlArn"]

    forged = AccessKey("x", sandbox_operator.access_key_id, "wrong-secret")
    refused = run_aws_cli_raw(sandbox, forged, "rolesanywhere", "list-profiles")
    assert refused.returncode != 0
    assert "InvalidSignatureException" in refused.stderr
