"""Certificate building and envelope encryption for the CA, with no database in sight.

Kept Django-free so the certificate profiles and the at-rest format are tested (and benchmarked)
as plain functions; `services.py` adds storage, locking and audit around them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

CA_COMMON_NAME = "Rolegate AWS Roles Anywhere CA"
KEY_TYPES = ("ecdsa-p256", "rsa-2048", "rsa-3072")
# Certificates are valid from five minutes ago, so a verifier clock (AWS's) up to five minutes
# behind ours does not see a fresh leaf as "not yet valid": the same window AWS allows a signed
# request's date (Teleport backdates one minute; teleport#68051 asks for more).
CLOCK_SKEW = timedelta(minutes=5)
MINIMUM_KEK_LENGTH = 32
ENVELOPE_VERSION = "v1"

CaPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CaKeyError(Exception):
    """The CA private key cannot be used: encryption key missing, wrong, or data corrupted."""


def random_serial() -> int:
    """A 128-bit random, non-zero serial number (RFC 5280 allows up to 20 octets)."""
    while True:
        serial = secrets.randbits(128)
        if serial:
            return serial


def serial_to_hex(serial: int) -> str:
    """Fixed-width lowercase hex, the form stored and shown everywhere."""
    return f"{serial:032x}"


def generate_ca_key(key_type: str) -> CaPrivateKey:
    """Generate a CA key of one of KEY_TYPES."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type in ("rsa-2048", "rsa-3072"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    raise ValueError(f"unknown CA key type {key_type!r}; expected one of {', '.join(KEY_TYPES)}")


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    """Colon-separated upper-case SHA-256 fingerprint, as openssl prints it."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def build_ca_certificate(
    *, private_key: CaPrivateKey, organization: str, now: datetime, validity: timedelta
) -> x509.Certificate:
    """A self-signed X.509 v3 CA certificate (CA:true critical, KU certSign+cRLSign+digSig)."""
    serial = random_serial()
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    # The serial in the subject makes every CA's name unique, so a leaf's issuer name tells the
    # two CAs of a rotation apart (Teleport does the same).
    attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_to_hex(serial)))
    name = x509.Name(attributes)
    public_key = private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    return builder.sign(private_key, hashes.SHA256())


_LEAF_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
_LEAF_BASIC_CONSTRAINTS = x509.BasicConstraints(ca=False, path_length=None)


@dataclass(frozen=True)
class Signer:
    """A usable CA: its certificate, decrypted key and the pieces every leaf copies."""

    certificate: x509.Certificate
    private_key: CaPrivateKey
    authority_key_identifier: x509.AuthorityKeyIdentifier
    # The DER every leaf of this CA shares, cut once from a builder-made leaf (see LeafTemplate).
    _leaf_template: LeafTemplate | None = field(default=None, compare=False, repr=False)

    @property
    def leaf_template(self) -> LeafTemplate:
        """The per-CA leaf template, made on first use."""
        template = self._leaf_template
        if template is None:
            template = LeafTemplate.for_signer(self)
            object.__setattr__(self, "_leaf_template", template)
        return template

    @classmethod
    def create(cls, certificate: x509.Certificate, private_key: CaPrivateKey) -> Signer:
        """Pair a CA certificate with its key, refusing a key that does not match."""
        if certificate.public_key() != private_key.public_key():
            raise CaKeyError("the decrypted CA private key does not match the CA certificate")
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(private_key.public_key())
        return cls(certificate, private_key, aki)


def _check_leaf(signer: Signer, now: datetime) -> datetime:
    ca_not_after = signer.certificate.not_valid_after_utc
    if ca_not_after <= now:
        raise CaKeyError(
            f"the active CA expired at {ca_not_after:%Y-%m-%d %H:%M} UTC; rotate it "
            "(manage.py rotate_ca init, then activate)"
        )
    return ca_not_after


def build_leaf_with_builder(
    signer: Signer,
    *,
    subject_cn: str,
    serial: int,
    now: datetime,
    ttl: timedelta,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The leaf as `cryptography`'s CertificateBuilder makes it: the reference for the template."""
    ca_not_after = _check_leaf(signer, now)
    key = key or ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(signer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + ttl, ca_not_after))
        .add_extension(_LEAF_BASIC_CONSTRAINTS, critical=True)
        .add_extension(_LEAF_KEY_USAGE, critical=True)
        .add_extension(signer.authority_key_identifier, critical=False)
        .sign(signer.private_key, hashes.SHA256())
    )
    return certificate, key


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _der(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _der_length(len(content)) + content


def _der_children(der: bytes) -> list[bytes]:
    """The complete TLVs inside one DER SEQUENCE (definite lengths only, as DER requires)."""
    if not der or der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    position, end = _der_header(der, 0)
    children = []
    while position < end:
        start = position
        _content, child_end = _der_header(der, position)
        children.append(der[start:child_end])
        position = child_end
    return children


def _der_header(der: bytes, position: int) -> tuple[int, int]:
    """(start of content, end of the TLV) for the TLV at `position`."""
    first = der[position + 1]
    if first < 0x80:
        return position + 2, position + 2 + first
    count = first & 0x7F
    length = int.from_bytes(der[position + 2 : position + 2 + count], "big")
    start = position + 2 + count
    return start, start + length


def _der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der_time(moment: datetime) -> bytes:
    # RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (as cryptography does).
    if 1950 <= moment.year < 2050:
        return _der(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _der(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


_CN_OID = _der(0x06, bytes.fromhex("550403"))  # 2.5.4.3 commonName
# SubjectPublicKeyInfo of a P-256 key up to its point: SEQUENCE { AlgorithmIdentifier
# { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }; the 65-byte uncompressed point
# follows. The same bytes `public_bytes(DER, SubjectPublicKeyInfo)` writes (tests compare).
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def p256_spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The DER SubjectPublicKeyInfo of a P-256 key's public half."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _P256_SPKI_PREFIX + point


@lru_cache(maxsize=4096)
def _subject_der(subject_cn: str) -> bytes:
    """Name { RDN { CN = subject_cn (UTF8String) } }: a user's CN repeats, so it is cached."""
    return _der(0x30, _der(0x31, _der(0x30, _CN_OID + _der(0x0C, subject_cn.encode("utf-8")))))


def _validity_der(not_before: datetime, not_after: datetime) -> bytes:
    return _der(0x30, _der_time(not_before) + _der_time(not_after))


@dataclass(frozen=True, slots=True)
class Leaf:
    """An issued leaf as its DER bytes, with the fields issuance reads without parsing it.

    `certificate()` parses the DER for callers that need a `cryptography` object; issuance
    itself sends the DER (base64) and records the serial and validity, so it never does.
    """

    der: bytes
    serial: int
    not_before: datetime
    not_after: datetime

    def certificate(self) -> x509.Certificate:
        """The leaf parsed by `cryptography` (not cached: callers that need it keep it)."""
        return x509.load_der_x509_certificate(self.der)


@dataclass(frozen=True)
class LeafTemplate:
    """The parts of a leaf's DER that only depend on the CA, cut from one builder-made leaf.

    A leaf is then assembled from them plus its serial, validity, CN and public key, and
    signed once: the CertificateBuilder's field validation, extension encoding and Python
    object assembly are paid once per CA instead of once per leaf. The reference test checks
    every field against `build_leaf_with_builder`.
    """

    version: bytes
    signature_algorithm: bytes
    issuer: bytes
    extensions: bytes
    ec_signature: bool
    # The CA certificate's own end, read once (leaves never outlive it).
    ca_not_after: datetime
    # The last validity encoded: issuances in the same second with the same TTL share it.
    _last_validity: list[tuple[datetime, datetime, bytes]] = field(
        default_factory=list, compare=False, repr=False
    )

    @classmethod
    def for_signer(cls, signer: Signer) -> LeafTemplate:
        """Cut the template from a reference leaf signed by `signer`."""
        moment = signer.certificate.not_valid_before_utc + CLOCK_SKEW
        reference, _ = build_leaf_with_builder(
            signer, subject_cn="template", serial=1, now=moment, ttl=timedelta(minutes=1)
        )
        parts = _der_children(reference.tbs_certificate_bytes)
        version, _serial, algorithm, issuer, _validity, _subject, _spki, extensions = parts
        outer = _der_children(reference.public_bytes(serialization.Encoding.DER))
        if outer[1] != algorithm or version != bytes.fromhex("a003020102"):
            raise ValueError("unexpected reference leaf layout")
        return cls(
            version=version,
            signature_algorithm=algorithm,
            issuer=issuer,
            extensions=extensions,
            ec_signature=isinstance(signer.private_key, ec.EllipticCurvePrivateKey),
            ca_not_after=signer.certificate.not_valid_after_utc,
        )

    def validity(self, not_before: datetime, not_after: datetime) -> bytes:
        """The Validity DER, reused while the times stay the same (one entry, per second)."""
        last = self._last_validity
        if last:
            cached = last[0]
            if cached[0] == not_before and cached[1] == not_after:
                return cached[2]
        encoded = _validity_der(not_before, not_after)
        # One tuple swapped in whole: a concurrent reader sees the old entry or the new one.
        last[:] = [(not_before, not_after, encoded)]
        return encoded

    def tbs(
        self,
        *,
        serial: int,
        not_before: datetime,
        not_after: datetime,
        subject_cn: str,
        spki: bytes,
    ) -> bytes:
        """The to-be-signed certificate's DER."""
        return _der(
            0x30,
            b"".join(
                (
                    self.version,
                    _der_integer(serial),
                    self.signature_algorithm,
                    self.issuer,
                    self.validity(not_before, not_after),
                    _subject_der(subject_cn),
                    spki,
                    self.extensions,
                )
            ),
        )


def build_leaf(
    signer: Signer,
    *,
    subject_cn: str,
    serial: int,
    now: datetime,
    ttl: timedelta,
) -> tuple[Leaf, ec.EllipticCurvePrivateKey]:
    """A fresh P-256 key and a leaf: CN only, KU digitalSignature, CA:false, SHA-256.

    The validity ends at ``now + ttl`` but never after the CA's own expiry, so a leaf never
    outlives the certificate that vouches for it. Assembled from the CA's template and signed
    once; the same bytes `build_leaf_with_builder` makes (tests/authority compare them).
    Returned as DER (`Leaf`): parsing it back is left to callers that need an object.
    """
    return assemble_leaf(
        signer,
        subject_cn=subject_cn,
        serial=serial,
        now=now,
        ttl=ttl,
        key=ec.generate_private_key(ec.SECP256R1()),
    )


def assemble_leaf(
    signer: Signer,
    *,
    subject_cn: str,
    serial: int,
    now: datetime,
    ttl: timedelta,
    key: ec.EllipticCurvePrivateKey,
) -> tuple[Leaf, ec.EllipticCurvePrivateKey]:
    """`build_leaf` for a given key (the template path; tests compare it with the builder's)."""
    template = signer.leaf_template
    ca_not_after = template.ca_not_after
    if ca_not_after <= now:
        _check_leaf(signer, now)  # raises, with the message operators see
    if not 1 <= len(subject_cn) <= 64:
        # The same refusal as x509.NameAttribute's (RFC 5280's ub-common-name).
        raise ValueError(f"Attribute's length must be >= 1 and <= 64, but it was {len(subject_cn)}")
    if serial <= 0 or serial.bit_length() > 159:
        raise ValueError("The serial number should be positive and fit in 20 octets")
    if isinstance(key.curve, ec.SECP256R1):
        spki = p256_spki(key)
    else:
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    not_before = (now - CLOCK_SKEW).replace(microsecond=0)
    not_after = min(now + ttl, ca_not_after).replace(microsecond=0)
    tbs = template.tbs(
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        subject_cn=subject_cn,
        spki=spki,
    )
    ca_key = signer.private_key
    if isinstance(ca_key, ec.EllipticCurvePrivateKey):
        signature = ca_key.sign(tbs, _ECDSA_SHA256)
    else:
        signature = ca_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    der = _der(0x30, tbs + template.signature_algorithm + _der(0x03, b"\x00" + signature))
    return Leaf(der=der, serial=serial, not_before=not_before, not_after=not_after), key


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def build_crl(
    signer: Signer,
    *,
    revoked: Iterable[tuple[int, datetime]],
    number: int,
    now: datetime,
    lifetime: timedelta,
) -> x509.CertificateRevocationList:
    """A CRL signed by the CA listing (serial, revocation time) pairs, numbered ``number``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(signer.certificate.subject)
        .last_update(now)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(signer.authority_key_identifier, critical=False)
    )
    for serial, revoked_at in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_at)
            .build()
        )
    return builder.sign(signer.private_key, hashes.SHA256())


# --- envelope encryption -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyEncryptionKey:
    """One operator-supplied key-encryption key, derived to 32 bytes, with a public id."""

    key: bytes
    key_id: str

    @classmethod
    def from_secret(cls, secret: str) -> KeyEncryptionKey:
        """Derive the AES-256 key from the configured text (any string of 32+ characters)."""
        material = secret.strip().encode()
        if len(material) < MINIMUM_KEK_LENGTH:
            raise CaKeyError(
                f"the CA encryption key must be at least {MINIMUM_KEK_LENGTH} characters "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"rolegate ca kek v1"
        ).derive(material)
        # The id names a key in error messages and on the row without revealing it.
        key_id = hashlib.sha256(b"rolegate kek id|" + key).hexdigest()[:16]
        return cls(key=key, key_id=key_id)

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(key_id={self.key_id!r})"


@dataclass(frozen=True)
class SealedKey:
    """The stored form of a CA private key: nothing here is secret without the KEK."""

    key_id: str
    kek_id: str
    dek_nonce: bytes
    wrapped_dek: bytes
    nonce: bytes
    ciphertext: bytes


def _key_aad(key_id: str) -> bytes:
    # Binding the record id means a ciphertext copied onto another CA row fails to decrypt.
    return f"rolegate-ca|{key_id}|{ENVELOPE_VERSION}".encode()


def _dek_aad(key_id: str) -> bytes:
    return f"rolegate-ca-dek|{key_id}|{ENVELOPE_VERSION}".encode()


def seal_private_key(private_key: CaPrivateKey, *, key_id: str, kek: KeyEncryptionKey) -> SealedKey:
    """Encrypt the key (PKCS#8 DER) under a fresh AES-256-GCM data key wrapped by the KEK."""
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    dek = AESGCM.generate_key(bit_length=256)
    nonce, dek_nonce = os.urandom(12), os.urandom(12)
    return SealedKey(
        key_id=key_id,
        kek_id=kek.key_id,
        dek_nonce=dek_nonce,
        wrapped_dek=AESGCM(kek.key).encrypt(dek_nonce, dek, _dek_aad(key_id)),
        nonce=nonce,
        ciphertext=AESGCM(dek).encrypt(nonce, plaintext, _key_aad(key_id)),
    )


def unwrap_data_key(sealed: SealedKey, keks: Sequence[KeyEncryptionKey]) -> bytes:
    """Return the data key, trying each configured KEK (matching id first)."""
    if not keks:
        raise CaKeyError(
            "no CA encryption key is configured; set ROLEGATE_CA_ENCRYPTION_KEY or "
            "ROLEGATE_CA_ENCRYPTION_KEY_FILE"
        )
    ordered = sorted(keks, key=lambda kek: kek.key_id != sealed.kek_id)
    for kek in ordered:
        try:
            return AESGCM(kek.key).decrypt(
                sealed.dek_nonce, sealed.wrapped_dek, _dek_aad(sealed.key_id)
            )
        except InvalidTag:
            continue
    configured = ", ".join(kek.key_id for kek in keks)
    raise CaKeyError(
        f"the CA private key cannot be decrypted: it was encrypted with the key whose id is "
        f"{sealed.kek_id}, but the configured CA encryption key(s) have id(s) {configured}, or "
        "the stored data was altered. Configure the original ROLEGATE_CA_ENCRYPTION_KEY."
    )


def open_private_key(sealed: SealedKey, keks: Sequence[KeyEncryptionKey]) -> CaPrivateKey:
    """Decrypt a sealed CA key; any failure is one CaKeyError with a reason, never a traceback."""
    dek = unwrap_data_key(sealed, keks)
    try:
        plaintext = AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, _key_aad(sealed.key_id))
    except InvalidTag:
        raise CaKeyError(
            "the CA private key ciphertext failed authentication: the stored data was altered "
            "or belongs to another CA record"
        ) from None
    key = serialization.load_der_private_key(plaintext, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CaKeyError(f"the CA private key has an unsupported type {type(key).__name__}")
    return key


def rewrap(sealed: SealedKey, keks: Sequence[KeyEncryptionKey], new: KeyEncryptionKey) -> SealedKey:
    """Re-wrap the data key under ``new``; the key ciphertext itself is unchanged."""
    dek = unwrap_data_key(sealed, keks)
    dek_nonce = os.urandom(12)
    return SealedKey(
        key_id=sealed.key_id,
        kek_id=new.key_id,
        dek_nonce=dek_nonce,
        wrapped_dek=AESGCM(new.key).encrypt(dek_nonce, dek, _dek_aad(sealed.key_id)),
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
    )
