"""Interop both ways: the PyPI `iam-rolesanywhere-session` signer against the awsra verifier, and
the awsra signer against a second, minimal verifier written here from the protocol text."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from botocore.awsrequest import AWSRequest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from iam_rolesanywhere_session import IAMRolesAnywhereSigner

from awsra.errors import VerificationError
from awsra.signer import sign_create_session, sign_request
from awsra.verifier import verify_request
from tests.awsra.awsra_support import PROFILE_ARN, ROLE_ARN, TRUST_ANCHOR_ARN, make_pki

BODY = json.dumps(
    {
        "durationSeconds": 3600,
        "profileArn": PROFILE_ARN,
        "roleArn": ROLE_ARN,
        "trustAnchorArn": TRUST_ANCHOR_ARN,
    }
)


def _library_signed(kind: str, url: str, *, with_chain: bool, leaf_hash=None):
    pki = make_pki(kind, leaf_hash=leaf_hash)
    signer = IAMRolesAnywhereSigner(
        certificate=pki.leaf_pem,
        private_key=pki.leaf_key_pem,
        certificate_chain=pki.chain_pem if with_chain else None,
        region="us-east-1",
    )
    request = AWSRequest(method="POST", url=url, data=BODY)
    signer.add_auth(request)  # signs with the real clock; no network is involved
    parts = urlsplit(url)
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    return pki, parts, dict(request.headers.items()), body


@pytest.mark.parametrize("kind", ["rsa", "ec", "p384"])
@pytest.mark.parametrize("with_chain", [False, True])
def test_library_signed_body_form_verifies_with_awsra(kind: str, with_chain: bool):
    url = "https://rolesanywhere.us-east-1.amazonaws.com/sessions"
    pki, parts, headers, body = _library_signed(kind, url, with_chain=with_chain)
    verified = verify_request(
        method="POST",
        path=parts.path,
        query_string=parts.query,
        headers=headers,
        body=body,
    )
    assert verified.serial == pki.leaf.serial_number
    assert verified.certificate == pki.leaf
    assert verified.chain == ([pki.intermediate] if with_chain else [])
    assert verified.role_arn == ROLE_ARN
    assert verified.profile_arn == PROFILE_ARN
    assert verified.trust_anchor_arn == TRUST_ANCHOR_ARN
    assert verified.duration_seconds == 3600
    expected = "AWS4-X509-RSA-SHA256" if kind == "rsa" else "AWS4-X509-ECDSA-SHA256"
    assert verified.algorithm == expected


def test_library_signed_request_with_query_and_port_verifies_with_awsra():
    url = (
        "http://127.0.0.1:4566/sessions?roleArn="
        + quote(ROLE_ARN, safe="")
        + "&profileArn="
        + quote(PROFILE_ARN, safe="")
    )
    _, parts, headers, body = _library_signed("ec", url, with_chain=False)
    assert headers["Host"] == "127.0.0.1:4566"
    verified = verify_request(
        method="POST",
        path=parts.path,
        query_string=parts.query,
        headers=headers,
        body=body,
    )
    assert verified.role_arn == ROLE_ARN


def test_library_signed_request_tampered_is_refused():
    url = "https://rolesanywhere.us-east-1.amazonaws.com/sessions"
    _, parts, headers, body = _library_signed("rsa", url, with_chain=False)
    tampered = body.replace(b"RAExample", b"RAExamplf")
    with pytest.raises(VerificationError, match="signature does not match"):
        verify_request(
            method="POST", path=parts.path, query_string="", headers=headers, body=tampered
        )


def test_library_sha384_label_quirk_is_refused_clearly():
    """The library names the algorithm after the certificate's hash (§2.8); awsra does not
    accept AWS4-X509-RSA-SHA384, and says so."""
    url = "https://rolesanywhere.us-east-1.amazonaws.com/sessions"
    _, parts, headers, body = _library_signed(
        "rsa", url, with_chain=False, leaf_hash=hashes.SHA384()
    )
    assert headers["Authorization"].startswith("AWS4-X509-RSA-SHA384 ")
    with pytest.raises(VerificationError, match="unsupported signing algorithm"):
        verify_request(method="POST", path=parts.path, query_string="", headers=headers, body=body)


# --- a second, minimal verifier written from the protocol description (§2.3-§2.6) ------------


def _uri_encode(text: str) -> str:
    return "".join(
        ch
        if ch.isascii() and (ch.isalnum() or ch in "-_.~")
        else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in text
    )


def minimal_verify(method: str, url: str, headers: dict[str, str], body: bytes) -> int:
    """Return the certificate serial if the request's signature is valid, else raise."""
    lower = {k.lower(): v for k, v in headers.items()}
    algorithm, _, rest = lower["authorization"].partition(" ")
    fields = dict(part.split("=", 1) for part in rest.split(", "))
    serial, date, region, service, terminator = fields["Credential"].split("/")
    assert terminator == "aws4_request"
    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date", "x-amz-x509"):
        assert required in signed
    parts = urlsplit(url)
    pairs = sorted(
        (_uri_encode(k), _uri_encode(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{name}:{' '.join(lower[name].split())}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = "\n".join(
        [
            algorithm,
            lower["x-amz-date"],
            f"{date}/{region}/{service}/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    cert = x509.load_der_x509_certificate(base64.b64decode(lower["x-amz-x509"]))
    assert int(serial) == cert.serial_number
    key = cert.public_key()
    signature = bytes.fromhex(fields["Signature"])
    if algorithm == "AWS4-X509-RSA-SHA256":
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(signature, to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    elif algorithm == "AWS4-X509-ECDSA-SHA256":
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, to_sign.encode(), ec.ECDSA(hashes.SHA256()))
    else:
        raise AssertionError(f"unexpected algorithm {algorithm}")
    return cert.serial_number


@pytest.mark.parametrize("kind", ["rsa", "ec", "p384"])
def test_awsra_create_session_request_verifies_with_minimal_verifier(kind: str):
    pki = make_pki(kind)
    request = sign_create_session(
        certificate=pki.leaf,
        private_key=pki.leaf_key,
        trust_anchor_arn=TRUST_ANCHOR_ARN,
        profile_arn=PROFILE_ARN,
        role_arn=ROLE_ARN,
        endpoint_url="http://127.0.0.1:4566",
        duration_seconds=900,
        role_session_name="alice",
        chain=[pki.intermediate],
    )
    assert request.url == "http://127.0.0.1:4566/sessions"
    assert minimal_verify("POST", request.url, request.headers, request.body) == (
        pki.leaf.serial_number
    )
    assert request.headers["Authorization"].split()[0] == (
        "AWS4-X509-RSA-SHA256" if kind == "rsa" else "AWS4-X509-ECDSA-SHA256"
    )


def test_awsra_query_form_request_verifies_with_minimal_verifier():
    pki = make_pki("ec")
    url = (
        "https://rolesanywhere.us-east-1.amazonaws.com:8443/sessions?trustAnchorArn="
        + quote(TRUST_ANCHOR_ARN, safe="")
        + "&roleArn="
        + quote(ROLE_ARN, safe="")
        + "&profileArn="
        + quote(PROFILE_ARN, safe="")
    )
    headers = sign_request(
        "POST",
        url,
        {"Content-Type": "application/json", "User-Agent": "rolegate-test"},
        b'{"durationSeconds":3600}',
        pki.leaf,
        pki.leaf_key,
        now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert headers["Host"] == "rolesanywhere.us-east-1.amazonaws.com:8443"
    assert "user-agent" not in headers["Authorization"]
    assert minimal_verify("POST", url, headers, b'{"durationSeconds":3600}') == (
        pki.leaf.serial_number
    )


def test_minimal_verifier_is_not_a_rubber_stamp():
    pki = make_pki("rsa")
    request = sign_create_session(
        certificate=pki.leaf,
        private_key=pki.leaf_key,
        trust_anchor_arn=TRUST_ANCHOR_ARN,
        profile_arn=PROFILE_ARN,
        role_arn=ROLE_ARN,
        endpoint_url="https://rolesanywhere.us-east-1.amazonaws.com",
    )
    with pytest.raises(InvalidSignature):
        minimal_verify("POST", request.url, request.headers, request.body + b" ")
