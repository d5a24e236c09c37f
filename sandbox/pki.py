"""Certificate checks Roles Anywhere applies after the signature: profile, path, revocation.

Also the facts CreateSession derives from a certificate: session tags (attribute mapping),
source identity and the default role session name.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from .errors import access_denied

MAX_PATH_LENGTH = 5
_ACCEPTED_HASHES = (
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
    hashes.SHA3_256,
    hashes.SHA3_384,
    hashes.SHA3_512,
)
_TAG_VALUE_RE = re.compile(r"[\w\s_.:/=+\-@]*\Z", re.UNICODE)
_SHORT_NAMES = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.TITLE: "title",
    NameOID.GIVEN_NAME: "givenName",
    NameOID.SURNAME: "surname",
    NameOID.EMAIL_ADDRESS: "emailAddress",
}


def check_leaf_profile(certificate: x509.Certificate, now: datetime) -> None:
    """v3, not a CA, digitalSignature, SHA-256 or stronger, a subject, and valid at `now`."""
    if certificate.version is not x509.Version.v3:
        raise access_denied("Untrusted Signing Certificate: end-entity certificate is not X.509 v3")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise access_denied(
            "Untrusted Signing Certificate: end-entity certificate has basicConstraints CA:true"
        )
    try:
        key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is None or not key_usage.digital_signature:
        raise access_denied(
            "Untrusted Signing Certificate: end-entity certificate keyUsage lacks digitalSignature"
        )
    _check_signature_hash(certificate, "end-entity certificate")
    if len(certificate.subject) == 0:
        raise access_denied(
            "Untrusted Signing Certificate: end-entity certificate has an empty subject"
        )
    _check_validity(certificate, now, "end-entity certificate")


def _check_signature_hash(certificate: x509.Certificate, what: str) -> None:
    algorithm = certificate.signature_hash_algorithm
    # Ed25519/Ed448 certificates have no separate hash and are strong enough.
    if algorithm is not None and not isinstance(algorithm, _ACCEPTED_HASHES):
        raise access_denied(
            f"Untrusted Signing Certificate: {what} is signed with {algorithm.name}; "
            "SHA-256 or stronger is required"
        )


def _check_validity(certificate: x509.Certificate, now: datetime, what: str) -> None:
    if now < certificate.not_valid_before_utc:
        raise access_denied(
            f"Untrusted Signing Certificate: {what} is not valid before "
            f"{certificate.not_valid_before_utc.isoformat()}"
        )
    if now > certificate.not_valid_after_utc:
        raise access_denied(
            f"Untrusted Signing Certificate: {what} expired at "
            f"{certificate.not_valid_after_utc.isoformat()}"
        )


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def build_path(
    leaf: x509.Certificate,
    intermediates: Iterable[x509.Certificate],
    anchors: Iterable[x509.Certificate],
    now: datetime,
) -> list[x509.Certificate]:
    """Return leaf → … → anchor, or refuse with "Untrusted Signing Certificate"."""
    anchor_list = list(anchors)
    pool = [c for c in intermediates if c != leaf]
    path = [leaf]
    current = leaf
    while len(path) <= MAX_PATH_LENGTH + 1:
        for anchor in anchor_list:
            if _issued_by(current, anchor):
                _check_validity(anchor, now, "trust anchor certificate")
                return [*path, anchor]
        candidates = [c for c in pool if c not in path and _is_ca(c) and _issued_by(current, c)]
        if not candidates:
            break
        current = candidates[0]
        _check_signature_hash(current, "intermediate certificate")
        _check_validity(current, now, "intermediate certificate")
        path.append(current)
    raise access_denied(
        "Untrusted Signing Certificate: no chain to a certificate of the trust anchor"
    )


def check_revocation(path: list[x509.Certificate], crls: Iterable[bytes]) -> None:
    """Refuse a path if an enabled CRL (signed by the right issuer) lists one of its certs."""
    parsed: list[x509.CertificateRevocationList] = []
    for data in crls:
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                parsed.append(x509.load_pem_x509_crl(data))
            else:
                parsed.append(x509.load_der_x509_crl(data))
        except ValueError:
            continue
    for certificate, issuer in itertools.pairwise(path):
        for crl in parsed:
            if crl.issuer != issuer.subject:
                continue
            if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                continue
            if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
                raise access_denied(
                    f"Certificate with serial {certificate.serial_number:x} has been revoked"
                )


def _rdn_values(name: x509.Name) -> dict[str, str]:
    values: dict[str, list[str]] = {}
    for rdn in name.rdns:
        for attribute in rdn:
            short = _SHORT_NAMES.get(attribute.oid)
            if short is None:
                continue
            value = (
                attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
            )
            values.setdefault(short, []).append(value)
    # Multi-valued attributes are joined with "/" in certificate order (AWS attribute mapping).
    return {key: "/".join(items) for key, items in values.items()}


def _selected(values: dict[str, str], specifiers: set[str], prefix: str = "") -> dict[str, str]:
    if f"{prefix}*" in specifiers:
        return dict(values)
    return {key: value for key, value in values.items() if f"{prefix}{key}" in specifiers}


def session_tags(certificate: x509.Certificate, mappings: list[dict[str, Any]]) -> dict[str, str]:
    """The principal tags CreateSession sets, per the profile's attribute mappings."""
    rules = {m["certificateField"]: {r["specifier"] for r in m["mappingRules"]} for m in mappings}
    tags: dict[str, str] = {}
    for key, value in _selected(
        _rdn_values(certificate.subject), rules.get("x509Subject", set())
    ).items():
        tags[f"x509Subject/{key}"] = value
    for key, value in _selected(
        _rdn_values(certificate.issuer), rules.get("x509Issuer", set())
    ).items():
        tags[f"x509Issuer/{key}"] = value
    san_rules = rules.get("x509SAN", set())
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        dns = san.get_values_for_type(x509.DNSName)
        if dns and "DNS" in san_rules:
            tags["x509SAN/DNS"] = dns[0]
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        if uris and "URI" in san_rules:
            tags["x509SAN/URI"] = uris[0]
        names = san.get_values_for_type(x509.DirectoryName)
        if names:
            for key, value in _selected(_rdn_values(names[0]), san_rules, "Name/").items():
                tags[f"x509SAN/Name/{key}"] = value
    # Values STS would refuse as session tags are dropped silently, as AWS does.
    return {k: v for k, v in tags.items() if len(v) <= 256 and _TAG_VALUE_RE.match(v)}


def common_name(certificate: x509.Certificate) -> str | None:
    """The subject CN, if any."""
    attributes = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode()


def source_identity(certificate: x509.Certificate) -> str:
    """`CN=<cn>` (≤ 61 chars), `<cn>` (62-64), or `ID=<hex serial>` without a CN."""
    cn = common_name(certificate)
    if cn is None:
        serial = f"{certificate.serial_number:x}"
        if len(serial) % 2:
            serial = "0" + serial
        return f"ID={serial}"
    if len(cn) <= 61:
        return f"CN={cn}"
    return cn[:64]


def default_session_name(certificate: x509.Certificate) -> str:
    """The default role session name: the certificate serial as lowercase hex."""
    # STS needs at least two characters; a tiny serial is zero-padded.
    return f"{certificate.serial_number:02x}"
