"""The trust-policy check behind the wizard's role warnings (pure), and the error wording."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.integrations.enrollment.probe import (
    PlainError,
    ProbedProfile,
    ProbeResult,
    explain_listing_error,
    explain_sign_in_error,
    trust_policy_problem,
)
from awsra.errors import AccessDeniedError, ServerError, ValidationError

ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/11111111-1111-1111-1111-111111111111"
)
OTHER = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/99999999-9999-9999-9999-999999999999"
)
ACTIONS = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]


def foreign_ca_pem() -> str:
    """A self-signed CA that is not Rolegate's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Somebody else's CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(**extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ACTIONS,
    }
    statement.update(extra)
    return statement


@pytest.mark.parametrize(
    "document",
    [
        policy(allow()),
        policy(allow(Condition={"ArnEquals": {"aws:SourceArn": ANCHOR}})),
        policy(allow(Condition={"ArnLike": {"aws:SourceArn": ANCHOR.rsplit("/", 1)[0] + "/*"}})),
        policy(allow(Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}})),
        policy(allow(Condition={"ArnEquals": {"aws:SourceArn": [OTHER, ANCHOR]}})),
        policy(allow(Condition={"ArnNotEquals": {"aws:SourceArn": OTHER}})),
        # Certificate-dependent conditions cannot be judged at enrollment: not a warning.
        policy(allow(Condition={"StringEquals": {"aws:PrincipalTag/x509Subject/CN": "alice"}})),
        policy(allow(Principal={"Service": ["ec2.amazonaws.com", "rolesanywhere.amazonaws.com"]})),
        policy(allow(Action="sts:*")),
        policy(allow(Principal="*")),
        {"Version": "2012-10-17", "Statement": allow()},
        # IAM hands the document URL-encoded over the query API.
        "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service"
        "%22%3A%22rolesanywhere.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D",
    ],
)
def test_trusting_policies(document: Any) -> None:
    assert trust_policy_problem(document, trust_anchor_arn=ANCHOR) == ""


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (policy(), "does not trust rolesanywhere.amazonaws.com"),
        (
            policy(allow(Principal={"Service": "ec2.amazonaws.com"})),
            "does not trust rolesanywhere.amazonaws.com",
        ),
        (policy(allow(Action=["sts:TagSession"])), "does not trust rolesanywhere.amazonaws.com"),
        (
            policy(allow(Condition={"ArnEquals": {"aws:SourceArn": OTHER}})),
            "only through another trust anchor",
        ),
        (
            policy(allow(Condition={"StringEquals": {"aws:SourceAccount": "999999999999"}})),
            "only through another trust anchor",
        ),
        (
            policy(allow(Condition={"ArnNotEquals": {"aws:SourceArn": ANCHOR}})),
            "only through another trust anchor",
        ),
        (policy(allow(), allow(Effect="Deny")), "denies rolesanywhere.amazonaws.com"),
        ("{not json", "not valid JSON"),
        ({"Version": "2012-10-17"}, "has no statements"),
    ],
)
def test_untrusting_policies(document: Any, problem: str) -> None:
    assert problem in trust_policy_problem(document, trust_anchor_arn=ANCHOR)


def test_errors_say_what_to_do() -> None:
    denied = explain_sign_in_error(
        AccessDeniedError("AccessDeniedException", "Profile x is disabled")
    )
    assert "Enable the trust anchor and the sync profile" in denied.fix
    assert denied.detail == "AccessDeniedException: Profile x is disabled"
    busy = explain_sign_in_error(ServerError("ServiceUnavailable", "try later"))
    assert busy.title == "AWS could not be reached, or was busy."
    invalid = explain_sign_in_error(ValidationError("ValidationException", "bad"))
    assert "same account and region" in invalid.fix
    listing = explain_listing_error(AccessDeniedError("AccessDeniedException", "no"))
    assert "rolesanywhere:ListProfiles" in listing.fix


def test_result_round_trips_through_session_data() -> None:
    result = ProbeResult(
        ok=True,
        profiles=[ProbedProfile("A", "arn", True, ["r"], {"k": "v"}, ["w"])],
        sync_profile_found=True,
        accepts_role_session_name=True,
        notes=["n"],
    )
    assert ProbeResult.from_data(result.as_data()) == result
    failed = ProbeResult(ok=False, error=PlainError("t", "f", "d"))
    assert ProbeResult.from_data(failed.as_data()) == failed
    assert result.warning_count == 1
