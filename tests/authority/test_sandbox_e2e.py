"""End to end against the offline AWS sandbox, over HTTP: the exported bundle becomes a Roles
Anywhere trust anchor, leaves issued here get credentials, rotation and CRLs behave as in AWS."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import awsra
from apps.authority import selectors, services
from apps.authority.services import IssuedCertificate
from awsra.signer import SigningIdentity
from sandbox.seed import GUIDE_TRUST_POLICY

pytestmark = pytest.mark.django_db


class Aws:
    """The trust anchor, role and profile the tests exchange leaves against."""

    def __init__(self, sandbox: Any) -> None:
        self.url = sandbox.url
        # A fresh session: boto3's default one caches the previous test's operator key.
        session = boto3.session.Session()
        self.iam = session.client("iam")
        self.ra = session.client("rolesanywhere")
        self.role_arn = self.iam.create_role(
            RoleName="RolegateAuthorityTest",
            AssumeRolePolicyDocument=json.dumps(GUIDE_TRUST_POLICY),
        )["Role"]["Arn"]
        self.anchor_arn = self.ra.create_trust_anchor(
            name="rolegate",
            source=self._source(),
            enabled=True,
        )["trustAnchor"]["trustAnchorArn"]
        self.anchor_id = self.anchor_arn.rsplit("/", 1)[1]
        self.profile_arn = self.ra.create_profile(
            name="authority-test", roleArns=[self.role_arn], enabled=True
        )["profile"]["profileArn"]

    @staticmethod
    def _source() -> Any:
        return {
            "sourceType": "CERTIFICATE_BUNDLE",
            "sourceData": {"x509CertificateData": selectors.ca_bundle_pem()},
        }

    def update_anchor_from_export(self) -> int:
        """What the operator does at each rotation phase; returns the certificate count."""
        self.ra.update_trust_anchor(trustAnchorId=self.anchor_id, source=self._source())
        return selectors.ca_bundle_pem().count("BEGIN CERTIFICATE")

    def exchange(self, leaf: IssuedCertificate) -> awsra.Credentials:
        return awsra.create_session(
            certificate=leaf.certificate,
            private_key=leaf.private_key,
            trust_anchor_arn=self.anchor_arn,
            profile_arn=self.profile_arn,
            role_arn=self.role_arn,
            endpoint_url=self.url,
            max_attempts=1,
        )


@pytest.fixture
def aws(aws_env: Any) -> Aws:
    return Aws(aws_env)


def issue(subject: str, ttl: timedelta = timedelta(minutes=1)) -> IssuedCertificate:
    return services.certificate_issue(subject_cn=subject, purpose="test", ttl=ttl, actor=None)


def test_leaf_and_exported_bundle_get_credentials(aws: Aws) -> None:
    credentials = aws.exchange(issue("alice"))
    assert credentials.access_key_id and credentials.secret_access_key
    assert credentials.session_token


def test_rotation_phases_against_the_trust_anchor(aws: Aws) -> None:
    # A leaf of the first CA, long-lived enough to be presented at every phase.
    old_leaf = issue("old", ttl=timedelta(minutes=30))
    aws.exchange(old_leaf)

    services.ca_rotate(phase="init", actor=None)
    assert aws.update_anchor_from_export() == 2
    aws.exchange(old_leaf)
    assert issue("still-old").certificate.issuer == old_leaf.certificate.issuer
    aws.exchange(issue("still-old"))

    services.ca_rotate(phase="activate", actor=None)
    new_leaf = issue("new", ttl=timedelta(minutes=30))
    assert new_leaf.certificate.issuer != old_leaf.certificate.issuer
    # During the overlap both CAs' leaves work.
    aws.exchange(new_leaf)
    aws.exchange(old_leaf)

    services.ca_rotate(phase="finish", actor=None)
    assert aws.update_anchor_from_export() == 1
    aws.exchange(new_leaf)
    with pytest.raises(awsra.AccessDeniedError, match="Untrusted Signing Certificate"):
        aws.exchange(old_leaf)


def test_activating_before_updating_the_anchor_is_what_breaks_issuance(aws: Aws) -> None:
    services.ca_rotate(phase="init", actor=None)
    services.ca_rotate(phase="activate", actor=None)  # the operator skipped the anchor update
    with pytest.raises(awsra.AccessDeniedError):
        aws.exchange(issue("alice"))
    aws.update_anchor_from_export()
    aws.exchange(issue("alice"))


def test_imported_crl_refuses_the_revoked_leaf_only(aws: Aws) -> None:
    revoked = issue("mallory", ttl=timedelta(minutes=10))
    kept = issue("alice", ttl=timedelta(minutes=10))
    services.certificate_revoke(serial=revoked.serial, reason="compromised", actor=None)
    pem, _number = selectors.crl_pem()
    aws.ra.import_crl(
        name="rolegate", crlData=pem.encode(), trustAnchorArn=aws.anchor_arn, enabled=True
    )
    with pytest.raises(awsra.AccessDeniedError, match="revoked"):
        aws.exchange(revoked)
    aws.exchange(kept)


def test_the_issuance_signing_path_is_accepted_and_a_wrong_key_is_not(aws: Aws) -> None:
    # What the credential issuance sends: the leaf's DER and its key as a SigningIdentity,
    # signed without re-comparing the key (the CA made the pair); AWS still checks the
    # signature, so an identity whose key is not the leaf's gets nothing.
    leaf = issue("alice")
    fields = {
        "trust_anchor_arn": aws.anchor_arn,
        "profile_arn": aws.profile_arn,
        "role_arn": aws.role_arn,
        "endpoint_url": aws.url,
        "max_attempts": 1,
    }
    credentials = awsra.create_session(identity=leaf.identity, **fields)
    assert credentials.access_key_id and credentials.session_token
    wrong = SigningIdentity(
        certificate_der=leaf.der,
        serial=leaf.serial,
        private_key=ec.generate_private_key(ec.SECP256R1()),
    )
    with pytest.raises(awsra.AccessDeniedError):
        awsra.create_session(identity=wrong, **fields)
    with pytest.raises(TypeError, match="not both"):
        awsra.create_session(identity=leaf.identity, certificate=leaf.certificate, **fields)
