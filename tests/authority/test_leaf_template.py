"""The template-built leaf equals the CertificateBuilder-built one, field by field and byte by byte.

`pki.build_leaf` assembles the to-be-signed DER from parts cut once per CA (LeafTemplate) and
signs it once; `pki.build_leaf_with_builder` is the reference made with cryptography's
CertificateBuilder. With the same key, serial, CN and times their TBS bytes must be equal, every
field parsed back by cryptography must agree, and the result must verify against the CA and be
accepted by awsra's verifier when it signs a CreateSession request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from apps.authority import pki
from awsra import signer as awsra_signer
from awsra import verifier

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_UUID_TAIL = "-0000-4000-8000-" + "0" * 12
ANCHOR = f"arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/{'a' * 8}{_UUID_TAIL}"
PROFILE = f"arn:aws:rolesanywhere:us-east-1:123456789012:profile/{'b' * 8}{_UUID_TAIL}"
ROLE = "arn:aws:iam::123456789012:role/ReadOnly"


def _signer(key_type: str, validity: timedelta = timedelta(days=3650)) -> pki.Signer:
    key = pki.generate_ca_key(key_type)
    certificate = pki.build_ca_certificate(
        private_key=key, organization="example-cluster", now=NOW, validity=validity
    )
    return pki.Signer.create(certificate, key)


def _fields(certificate: x509.Certificate) -> dict[str, object]:
    return {
        "version": certificate.version,
        "serial": certificate.serial_number,
        "subject": certificate.subject.rfc4514_string(),
        "subject_der": certificate.subject.public_bytes(),
        "issuer_der": certificate.issuer.public_bytes(),
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
        "signature_algorithm": certificate.signature_algorithm_oid,
        "signature_hash": type(certificate.signature_hash_algorithm),
        "public_key": certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "extensions": [(e.oid, e.critical, e.value) for e in certificate.extensions],
    }


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "rsa-2048"])
@pytest.mark.parametrize(
    ("subject_cn", "serial", "now", "ttl"),
    [
        # A fixed serial (not random_serial()): every xdist worker must collect the same ids.
        ("alice", 0x5B0D_2F43_7C11_9A8E_0246_8ACE_1357_9BDF, NOW, timedelta(minutes=5)),
        ("a", 1, NOW, timedelta(minutes=1)),
        ("x" * 64, 2**127 + 5, NOW, timedelta(hours=2)),  # high bit set: a leading zero octet
        ("zoë.münch@example.org", 2**159 - 1, NOW, timedelta(minutes=5)),  # 20 octets
        ("bob", 255, datetime(2049, 12, 31, 23, 58, 30, 123456, tzinfo=UTC), timedelta(hours=1)),
    ],
)
def test_template_leaf_equals_builder_leaf(
    key_type: str, subject_cn: str, serial: int, now: datetime, ttl: timedelta
) -> None:
    signer = _signer(key_type, validity=timedelta(days=365 * 30))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf, fast_key = pki.assemble_leaf(
        signer, subject_cn=subject_cn, serial=serial, now=now, ttl=ttl, key=key
    )
    reference, _ = pki.build_leaf_with_builder(
        signer, subject_cn=subject_cn, serial=serial, now=now, ttl=ttl, key=key
    )
    assert fast_key is key
    # The leaf is its DER; parsed by cryptography it is the builder's certificate, field by
    # field, and the fields issuance reads without parsing agree with the parsed ones.
    fast = x509.load_der_x509_certificate(leaf.der)
    assert fast.tbs_certificate_bytes == reference.tbs_certificate_bytes
    assert _fields(fast) == _fields(reference)
    assert (leaf.serial, leaf.not_before, leaf.not_after) == (
        reference.serial_number,
        reference.not_valid_before_utc,
        reference.not_valid_after_utc,
    )
    assert leaf.certificate() == fast
    fast.verify_directly_issued_by(signer.certificate)
    # Its DER is what cryptography writes back for it (no non-canonical encoding hides in it).
    assert fast.public_bytes(serialization.Encoding.DER) == leaf.der
    # The second leaf of the same second reuses the encoded validity: still the same bytes.
    again, _ = pki.assemble_leaf(
        signer, subject_cn=subject_cn, serial=serial, now=now, ttl=ttl, key=key
    )
    assert x509.load_der_x509_certificate(again.der).tbs_certificate_bytes == (
        reference.tbs_certificate_bytes
    )


def test_validity_crossing_2050_switches_to_generalized_time() -> None:
    signer = _signer("ecdsa-p256", validity=timedelta(days=365 * 40))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime(2049, 12, 31, 23, 59, 0, tzinfo=UTC)
    leaf, _ = pki.assemble_leaf(
        signer, subject_cn="c", serial=9, now=now, ttl=timedelta(minutes=5), key=key
    )
    reference, _ = pki.build_leaf_with_builder(
        signer, subject_cn="c", serial=9, now=now, ttl=timedelta(minutes=5), key=key
    )
    fast = leaf.certificate()
    assert fast.not_valid_after_utc.year == 2050
    assert fast.tbs_certificate_bytes == reference.tbs_certificate_bytes


def test_template_leaf_refuses_what_the_builder_refuses() -> None:
    signer = _signer("ecdsa-p256")
    for cn in ("", "y" * 65):
        with pytest.raises(ValueError, match="length must be"):
            pki.build_leaf(signer, subject_cn=cn, serial=3, now=NOW, ttl=timedelta(minutes=1))
        with pytest.raises(ValueError, match="length must be"):
            pki.build_leaf_with_builder(
                signer, subject_cn=cn, serial=3, now=NOW, ttl=timedelta(minutes=1)
            )
    with pytest.raises(pki.CaKeyError, match="expired"):
        pki.build_leaf(
            signer,
            subject_cn="a",
            serial=4,
            now=signer.certificate.not_valid_after_utc,
            ttl=timedelta(minutes=1),
        )


def test_template_leaf_signs_a_create_session_the_verifier_accepts() -> None:
    signer = _signer("ecdsa-p256")
    now = datetime.now(UTC).replace(microsecond=0)
    built, key = pki.build_leaf(
        signer, subject_cn="alice", serial=pki.random_serial(), now=now, ttl=timedelta(minutes=5)
    )
    leaf = built.certificate()
    signed = awsra_signer.sign_create_session(
        certificate=leaf,
        private_key=key,
        trust_anchor_arn=ANCHOR,
        profile_arn=PROFILE,
        role_arn=ROLE,
        endpoint_url="https://rolesanywhere.us-east-1.amazonaws.com",
        duration_seconds=3600,
    )
    verified = verifier.verify_request(
        method=signed.method,
        path="/sessions",
        query_string="",
        headers=signed.headers,
        body=signed.body,
    )
    assert verified.serial == leaf.serial_number
    assert verified.certificate == leaf
    assert verified.role_arn == ROLE


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["p256", "p384"])
def test_leaf_public_key_info_is_what_cryptography_writes(curve: ec.EllipticCurve) -> None:
    signer = _signer("ecdsa-p256")
    key = ec.generate_private_key(curve)
    leaf, _ = pki.assemble_leaf(
        signer, subject_cn="k", serial=7, now=NOW, ttl=timedelta(minutes=1), key=key
    )
    expected = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert (
        leaf.certificate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == expected
    )
    if isinstance(curve, ec.SECP256R1):
        assert pki.p256_spki(key) == expected
