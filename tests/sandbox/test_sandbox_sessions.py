"""CreateSession: success through PyPI's signer, then one refusal per decision rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

import awsra
from tests.sandbox.sandbox_certs import make_ca
from tests.sandbox.sandbox_helpers import AWS_CLI, Scenario, client, make_role, run_aws_cli


def assert_denied(result, fragment: str) -> None:
    assert result.status == 403, result.body
    assert result.headers.get("X-Amzn-ErrorType") == "AccessDeniedException"
    assert fragment.lower() in result.message.lower(), result.message


def test_create_session_succeeds_and_credentials_work(scenario: Scenario) -> None:
    leaf = scenario.leaf("alice")
    result = scenario.create_session(leaf)
    assert result.status == 201, result.body
    credential = result.body["credentialSet"][0]
    serial_hex = f"{leaf.certificate.serial_number:x}"
    assert credential["roleArn"] == scenario.role_arn
    assert credential["sourceIdentity"] == "CN=alice"
    assert credential["assumedRoleUser"]["arn"].endswith(
        f":assumed-role/ExampleReadOnlyAccess/{serial_hex}"
    )
    assert result.body["subjectArn"].startswith(
        "arn:aws:rolesanywhere:us-east-1:123456789012:subject/"
    )
    expiration = datetime.fromisoformat(credential["credentials"]["expiration"])
    assert timedelta(minutes=59) < expiration - datetime.now(UTC) <= timedelta(hours=1)

    identity = client("sts", scenario.sandbox, result.credentials).get_caller_identity()
    assert identity["Arn"] == (
        f"arn:aws:sts::123456789012:assumed-role/ExampleReadOnlyAccess/{serial_hex}"
    )


def test_credentials_pass_aws_cli_get_caller_identity(scenario: Scenario) -> None:
    result = scenario.create_session(scenario.leaf("alice"), session_name="alice")
    assert result.status == 201, result.body
    output = run_aws_cli(scenario.sandbox, result.credentials, "sts", "get-caller-identity")
    assert output["Arn"] == "arn:aws:sts::123456789012:assumed-role/ExampleReadOnlyAccess/alice"
    assert AWS_CLI.exists()


def test_awsra_client_gets_credentials_from_the_sandbox(scenario: Scenario) -> None:
    leaf = scenario.leaf("carol")
    credentials = awsra.create_session(
        certificate=leaf.pem,
        private_key=leaf.key_pem,
        trust_anchor_arn=scenario.anchor_arn,
        profile_arn=scenario.profile_arn,
        role_arn=scenario.role_arn,
        role_session_name="carol",
        endpoint_url=scenario.sandbox.url,
        max_attempts=1,
    )
    assert credentials.assumed_role_arn is not None
    assert credentials.assumed_role_arn.endswith("/ExampleReadOnlyAccess/carol")


def test_intermediate_ca_in_the_chain_is_followed(scenario: Scenario) -> None:
    intermediate = scenario.ca.intermediate()
    leaf = intermediate.issue("dave")
    result = scenario.create_session(leaf, chain=[intermediate.pem])
    assert result.status == 201, result.body
    assert scenario.create_session(leaf).status == 403


def test_subject_is_recorded(scenario: Scenario) -> None:
    assert scenario.create_session(scenario.leaf("erin")).status == 201
    ra = scenario.rolesanywhere
    subjects = ra.list_subjects()["subjects"]
    assert [s["x509Subject"] for s in subjects] == ["CN=erin"]
    detail = ra.get_subject(subjectId=subjects[0]["subjectId"])["subject"]
    assert len(detail["credentials"]) == 1


# -- one test per decision rule ---------------------------------------------------------


def test_bad_signature_is_refused(scenario: Scenario) -> None:
    assert_denied(scenario.create_session(tamper_body=True), "signature")


def test_stale_date_is_refused(scenario: Scenario) -> None:
    scenario.sandbox.clock_offset = timedelta(minutes=6)
    # Still inside the certificate's validity, so only the request date is wrong.
    leaf = scenario.leaf("alice", lifetime=timedelta(hours=2))
    assert_denied(scenario.create_session(leaf), "server time")
    scenario.sandbox.clock_offset = timedelta(minutes=4)
    assert scenario.create_session(leaf).status == 201


def test_untrusted_ca_is_refused(scenario: Scenario) -> None:
    stranger = make_ca("Somebody Else's CA").issue("mallory")
    assert_denied(scenario.create_session(stranger), "Untrusted Signing Certificate")


def test_expired_leaf_is_refused(scenario: Scenario) -> None:
    leaf = scenario.leaf(
        "alice",
        not_before=datetime.now(UTC) - timedelta(hours=2),
        lifetime=timedelta(hours=1),
    )
    assert_denied(scenario.create_session(leaf), "expired")


def test_leaf_valid_only_in_the_future_follows_the_sandbox_clock(scenario: Scenario) -> None:
    leaf = scenario.leaf("alice", lifetime=timedelta(minutes=10))
    scenario.sandbox.clock_offset = timedelta(minutes=20)
    # The skew check would refuse first, so allow the skew to reach the validity rule.
    scenario.sandbox.max_skew = timedelta(hours=1)
    try:
        assert_denied(scenario.create_session(leaf), "expired")
    finally:
        scenario.sandbox.max_skew = timedelta(minutes=5)


def test_ca_true_leaf_is_refused(scenario: Scenario) -> None:
    leaf = scenario.leaf("alice", ca=True)
    assert_denied(scenario.create_session(leaf), "CA:true")


def test_leaf_without_digital_signature_is_refused(scenario: Scenario) -> None:
    leaf = scenario.leaf("alice", digital_signature=False)
    assert_denied(scenario.create_session(leaf), "digitalSignature")


def test_revoked_serial_is_refused(scenario: Scenario) -> None:
    leaf = scenario.leaf("alice")
    other = scenario.leaf("bob")
    ra = scenario.rolesanywhere
    crl = ra.import_crl(
        name="rolegate-crl",
        crlData=scenario.ca.crl([leaf.certificate.serial_number]),
        trustAnchorArn=scenario.anchor_arn,
        enabled=True,
    )["crl"]
    assert_denied(scenario.create_session(leaf), "revoked")
    assert scenario.create_session(other).status == 201
    ra.disable_crl(crlId=crl["crlId"])
    assert scenario.create_session(leaf).status == 201


def test_disabled_profile_is_refused(scenario: Scenario) -> None:
    scenario.rolesanywhere.disable_profile(profileId=scenario.profile_id)
    assert_denied(scenario.create_session(), "disabled")
    scenario.rolesanywhere.enable_profile(profileId=scenario.profile_id)
    assert scenario.create_session().status == 201


def test_disabled_trust_anchor_is_refused(scenario: Scenario) -> None:
    scenario.rolesanywhere.disable_trust_anchor(trustAnchorId=scenario.anchor_id)
    assert_denied(scenario.create_session(), "disabled")


def test_role_not_in_profile_is_refused(scenario: Scenario) -> None:
    other_role = make_role(scenario.sandbox, scenario.operator, "NotInTheProfile")
    assert_denied(scenario.create_session(role_arn=other_role), "is not in profile")


def test_session_name_refused_when_profile_does_not_accept_it(scenario: Scenario) -> None:
    scenario.rolesanywhere.update_profile(
        profileId=scenario.profile_id, acceptRoleSessionName=False
    )
    assert_denied(
        scenario.create_session(session_name="alice"), "Not authorized to set roleSessionName"
    )
    assert scenario.create_session().status == 201


def test_duration_above_role_maximum_is_refused(scenario: Scenario) -> None:
    scenario.rolesanywhere.update_profile(profileId=scenario.profile_id, durationSeconds=7200)
    result = scenario.create_session(duration=7200)
    assert result.status == 400, result.body
    assert result.headers.get("X-Amzn-ErrorType") == "ValidationException"
    assert "MaxSessionDuration" in result.message
    # min(profile, request) decides: asking for one hour is fine.
    ok = scenario.create_session(duration=3600)
    assert ok.status == 201


def test_profile_duration_caps_the_request(scenario: Scenario) -> None:
    scenario.rolesanywhere.update_profile(profileId=scenario.profile_id, durationSeconds=900)
    result = scenario.create_session(duration=3600)
    assert result.status == 201
    expiration = datetime.fromisoformat(result.credentials["expiration"])
    assert expiration - datetime.now(UTC) <= timedelta(seconds=900)


def test_trust_policy_condition_not_met_is_refused(scenario: Scenario) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "rolesanywhere.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                "Condition": {
                    "StringEquals": {"aws:PrincipalTag/x509Subject/CN": "alice"},
                    "ArnEquals": {"aws:SourceArn": scenario.anchor_arn},
                    "StringLike": {"sts:SourceIdentity": "CN=ali*"},
                },
            }
        ],
    }
    role_arn = make_role(scenario.sandbox, scenario.operator, "AliceOnly", trust_policy=policy)
    scenario.rolesanywhere.update_profile(
        profileId=scenario.profile_id, roleArns=[scenario.role_arn, role_arn]
    )
    assert scenario.create_session(scenario.leaf("alice"), role_arn=role_arn).status == 201
    assert_denied(
        scenario.create_session(scenario.leaf("bob"), role_arn=role_arn),
        "aws:PrincipalTag/x509Subject/CN",
    )


def test_trust_policy_without_rolesanywhere_principal_is_refused(scenario: Scenario) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = make_role(scenario.sandbox, scenario.operator, "Ec2Only", trust_policy=policy)
    scenario.rolesanywhere.update_profile(profileId=scenario.profile_id, roleArns=[role_arn])
    assert_denied(scenario.create_session(role_arn=role_arn), "does not allow")


def test_unknown_profile_is_not_found(scenario: Scenario) -> None:
    missing = scenario.profile_arn[:-12] + "000000000000"
    result = scenario.create_session(profile_arn=missing)
    assert result.status == 404
    assert result.headers.get("X-Amzn-ErrorType") == "ResourceNotFoundException"


def test_credentials_expire_with_the_sandbox_clock(scenario: Scenario) -> None:
    result = scenario.create_session()
    sts = client("sts", scenario.sandbox, result.credentials)
    sts.get_caller_identity()
    scenario.sandbox.clock_offset = timedelta(hours=2)
    with pytest.raises(ClientError) as raised:
        sts.get_caller_identity()
    assert raised.value.response["Error"]["Code"] == "ExpiredToken"
