"""Loading certificates and private keys from PEM/DER, with clear errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from awsra.errors import SignatureError

__all__ = [
    "CertificateInput",
    "PrivateKey",
    "PrivateKeyInput",
    "load_certificate",
    "load_certificates",
    "load_private_key",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CertificateInput: TypeAlias = x509.Certificate | bytes | str
PrivateKeyInput: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | bytes | str


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode("ascii", "strict") if isinstance(data, str) else data


def load_certificate(data: CertificateInput) -> x509.Certificate:
    """Return a certificate from an object, PEM text/bytes or DER bytes (not a file path)."""
    if isinstance(data, x509.Certificate):
        return data
    if not isinstance(data, bytes | str):
        raise SignatureError(f"certificate must be PEM/DER bytes or x509, not {type(data)!r}")
    try:
        raw = _as_bytes(data)
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError(f"cannot parse the certificate: {exc}") from None


def load_certificates(data: Iterable[CertificateInput] | bytes | str) -> list[x509.Certificate]:
    """Return certificates from a PEM bundle, or from an iterable of certificate inputs."""
    if isinstance(data, bytes | str):
        raw = _as_bytes(data)
        if not raw.strip():
            return []
        try:
            return x509.load_pem_x509_certificates(raw)
        except ValueError as exc:
            raise SignatureError(f"cannot parse the certificate bundle: {exc}") from None
    return [load_certificate(item) for item in data]


def load_private_key(data: PrivateKeyInput, password: bytes | None = None) -> PrivateKey:
    """Return an RSA or EC private key from an object or PEM/DER (PKCS#8, PKCS#1, SEC1)."""
    if isinstance(data, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return data
    if not isinstance(data, bytes | str):
        raise SignatureError(f"private key must be PEM/DER bytes or a key, not {type(data)!r}")
    try:
        raw = _as_bytes(data)
        if b"-----BEGIN" in raw:
            key = serialization.load_pem_private_key(raw, password=password)
        else:
            key = serialization.load_der_private_key(raw, password=password)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        # The library's message never contains key material.
        raise SignatureError(f"cannot load the private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SignatureError(f"unsupported private key type {type(key).__name__}: need RSA or EC")
    return key
