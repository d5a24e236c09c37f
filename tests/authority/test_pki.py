"""Certificate profiles and the at-rest format, as plain functions (no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from apps.authority import pki
from apps.authority.pki import CaKeyError, KeyEncryptionKey

from .conftest import OTHER_KEK, TEST_KEK

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_signer(
    key_type: str = "ecdsa-p256", validity: timedelta = timedelta(days=3650)
) -> pki.Signer:
    key = pki.generate_ca_key(key_type)
    certificate = pki.build_ca_certificate(
        private_key=key, organization="example-cluster", now=NOW, validity=validity
    )
    return pki.Signer.create(certificate, key)


@pytest.mark.parametrize(
    ("key_type", "key_class", "size"),
    [("ecdsa-p256", ec.EllipticCurvePrivateKey, 256), ("rsa-2048", rsa.RSAPrivateKey, 2048)],
)
def test_ca_certificate_profile(key_type: str, key_class: type, size: int) -> None:
    signer = make_signer(key_type)
    ca = signer.certificate
    assert isinstance(signer.private_key, key_class)
    assert signer.private_key.key_size == size
    assert ca.version is x509.Version.v3
    assert ca.subject == ca.issuer
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == pki.CA_COMMON_NAME
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "example-cluster"
    )
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is True
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign and usage.value.digital_signature
    assert not usage.value.key_encipherment
    assert isinstance(ca.signature_hash_algorithm, hashes.SHA256)
    assert ca.not_valid_after_utc - NOW == timedelta(days=3650)
    assert 2**100 < ca.serial_number < 2**128  # 128-bit random (fails ~1 in 2**27 by chance)
    ca.verify_directly_issued_by(ca)


def test_rsa_3072_key_type_and_unknown_type() -> None:
    assert pki.generate_ca_key("rsa-3072").key_size == 3072  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown CA key type 'dsa'"):
        pki.generate_ca_key("dsa")


def test_leaf_profile_field_by_field() -> None:
    signer = make_signer()
    serial = pki.random_serial()
    built, key = pki.build_leaf(
        signer, subject_cn="alice", serial=serial, now=NOW, ttl=timedelta(minutes=1)
    )
    leaf = built.certificate()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert leaf.public_key() == key.public_key()
    assert leaf.version is x509.Version.v3
    assert leaf.serial_number == serial
    # Subject: exactly one attribute, CN = the username.
    assert [(a.oid, a.value) for a in leaf.subject] == [(NameOID.COMMON_NAME, "alice")]
    assert leaf.issuer == signer.certificate.subject
    assert leaf.not_valid_before_utc == NOW - pki.CLOCK_SKEW
    assert leaf.not_valid_after_utc == NOW + timedelta(minutes=1)
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA256)
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not any(
        [
            usage.value.content_commitment,
            usage.value.key_encipherment,
            usage.value.data_encipherment,
            usage.value.key_agreement,
            usage.value.key_cert_sign,
            usage.value.crl_sign,
        ]
    )
    basic = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = signer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    leaf.verify_directly_issued_by(signer.certificate)


def test_leaf_never_outlives_its_ca() -> None:
    signer = make_signer(validity=timedelta(days=30))
    ca_end = signer.certificate.not_valid_after_utc
    leaf, _ = pki.build_leaf(
        signer, subject_cn="a", serial=1, now=ca_end - timedelta(seconds=20), ttl=timedelta(hours=1)
    )
    assert leaf.not_after == ca_end
    assert leaf.certificate().not_valid_after_utc == ca_end
    with pytest.raises(CaKeyError, match="expired"):
        pki.build_leaf(signer, subject_cn="a", serial=2, now=ca_end, ttl=timedelta(minutes=1))


def test_signer_refuses_a_key_that_does_not_match() -> None:
    signer = make_signer()
    with pytest.raises(CaKeyError, match="does not match"):
        pki.Signer.create(signer.certificate, ec.generate_private_key(ec.SECP256R1()))


def test_crl_lists_serials_and_verifies_against_the_ca() -> None:
    signer = make_signer()
    crl = pki.build_crl(
        signer, revoked=[(42, NOW), (7, NOW)], number=5, now=NOW, lifetime=timedelta(days=30)
    )
    assert crl.is_signature_valid(signer.certificate.public_key())  # type: ignore[arg-type]
    assert not crl.is_signature_valid(make_signer().certificate.public_key())  # type: ignore[arg-type]
    assert {entry.serial_number for entry in crl} == {42, 7}
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 5
    assert crl.issuer == signer.certificate.subject
    assert crl.next_update_utc == NOW + timedelta(days=30)


# --- envelope encryption -------------------------------------------------------------------


def test_envelope_round_trip_and_no_plaintext_in_the_record() -> None:
    key = pki.generate_ca_key("ecdsa-p256")
    kek = KeyEncryptionKey.from_secret(TEST_KEK)
    sealed = pki.seal_private_key(key, key_id="k1", kek=kek)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stored = b"".join([sealed.dek_nonce, sealed.wrapped_dek, sealed.nonce, sealed.ciphertext])
    assert der not in stored and der[-32:] not in stored
    assert sealed.kek_id == kek.key_id and len(sealed.kek_id) == 16
    opened = pki.open_private_key(sealed, [kek])
    assert opened.private_numbers() == key.private_numbers()  # type: ignore[union-attr]


def test_wrong_kek_gives_one_clear_error() -> None:
    sealed = pki.seal_private_key(
        pki.generate_ca_key("ecdsa-p256"), key_id="k1", kek=KeyEncryptionKey.from_secret(TEST_KEK)
    )
    other = KeyEncryptionKey.from_secret(OTHER_KEK)
    with pytest.raises(CaKeyError, match=f"encrypted with the key whose id is {sealed.kek_id}"):
        pki.open_private_key(sealed, [other])
    with pytest.raises(CaKeyError, match="no CA encryption key is configured"):
        pki.open_private_key(sealed, [])


def test_flipped_bit_and_swapped_record_are_refused() -> None:
    kek = KeyEncryptionKey.from_secret(TEST_KEK)
    sealed = pki.seal_private_key(pki.generate_ca_key("ecdsa-p256"), key_id="k1", kek=kek)
    flipped = bytearray(sealed.ciphertext)
    flipped[10] ^= 0x01
    with pytest.raises(CaKeyError, match="failed authentication"):
        pki.open_private_key(dataclasses.replace(sealed, ciphertext=bytes(flipped)), [kek])
    # The ciphertext of one record copied onto another record (another key id) is refused.
    other = pki.seal_private_key(pki.generate_ca_key("ecdsa-p256"), key_id="k2", kek=kek)
    swapped = dataclasses.replace(other, nonce=sealed.nonce, ciphertext=sealed.ciphertext)
    with pytest.raises(CaKeyError, match="failed authentication"):
        pki.open_private_key(swapped, [kek])
    with pytest.raises(CaKeyError):
        pki.open_private_key(dataclasses.replace(sealed, key_id="k2"), [kek])


def test_kek_rotation_rewraps_and_old_key_can_be_dropped() -> None:
    key = pki.generate_ca_key("ecdsa-p256")
    old, new = KeyEncryptionKey.from_secret(TEST_KEK), KeyEncryptionKey.from_secret(OTHER_KEK)
    sealed = pki.seal_private_key(key, key_id="k1", kek=old)
    assert pki.open_private_key(sealed, [new, old]).private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    rewrapped = pki.rewrap(sealed, [new, old], new)
    assert rewrapped.kek_id == new.key_id and rewrapped.ciphertext == sealed.ciphertext
    assert pki.open_private_key(rewrapped, [new]).private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    with pytest.raises(CaKeyError):
        pki.open_private_key(rewrapped, [old])


def test_short_kek_is_refused_and_repr_hides_the_key() -> None:
    with pytest.raises(CaKeyError, match="at least 32 characters"):
        KeyEncryptionKey.from_secret("short")
    kek = KeyEncryptionKey.from_secret(TEST_KEK)
    assert kek.key.hex() not in repr(kek) and kek.key_id in repr(kek)


def test_serials_are_128_bit_and_fixed_width_hex() -> None:
    serials = {pki.random_serial() for _ in range(2000)}
    assert len(serials) == 2000
    assert all(0 < serial < 2**128 for serial in serials)
    assert pki.serial_to_hex(255) == "0" * 30 + "ff"
