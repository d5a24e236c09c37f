"""Signer rules beyond the vectors: algorithm from key type, Host and port, chain limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes

from awsra.errors import SignatureError
from awsra.signer import sign_create_session, sign_request
from awsra.verifier import verify_request
from tests.awsra.awsra_support import PROFILE_ARN, ROLE_ARN, TRUST_ANCHOR_ARN, make_pki

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def _sign(pki, url="https://rolesanywhere.us-east-1.amazonaws.com/sessions", **kwargs):
    return sign_request(
        "POST",
        url,
        {"Content-Type": "application/json"},
        b"{}",
        pki.leaf,
        pki.leaf_key,
        now=NOW,
        **kwargs,
    )


def test_algorithm_comes_from_the_key_not_the_certificate_hash():
    pki = make_pki("rsa", leaf_hash=hashes.SHA384())
    assert _sign(pki)["Authorization"].startswith("AWS4-X509-RSA-SHA256 ")
    pki = make_pki("p384", leaf_hash=hashes.SHA512())
    assert _sign(pki)["Authorization"].startswith("AWS4-X509-ECDSA-SHA256 ")


def test_credential_carries_the_decimal_serial_and_region_from_host():
    pki = make_pki("ec")
    authorization = _sign(pki, "https://rolesanywhere.eu-west-3.amazonaws.com/sessions")[
        "Authorization"
    ]
    assert (
        f"Credential={pki.leaf.serial_number}/20240102/eu-west-3/rolesanywhere/aws4_request,"
        in (authorization)
    )


@pytest.mark.parametrize(
    ("url", "host"),
    [
        (
            "https://rolesanywhere.us-east-1.amazonaws.com:443/sessions",
            "rolesanywhere.us-east-1.amazonaws.com",
        ),
        ("https://Example.test:8443/sessions", "example.test:8443"),
        ("http://127.0.0.1:80/sessions", "127.0.0.1"),
        ("http://127.0.0.1:4566/sessions", "127.0.0.1:4566"),
        ("http://[::1]:4566/sessions", "[::1]:4566"),
    ],
)
def test_host_header_comes_from_the_url(url, host):
    headers = _sign(make_pki("ec"), url, region="us-east-1")
    assert headers["Host"] == host


def test_chain_excludes_the_leaf_and_is_limited_to_five():
    pki = make_pki("ec")
    headers = _sign(pki, chain=[pki.leaf, pki.intermediate])
    assert len(headers["X-Amz-X509-Chain"].split(",")) == 1
    assert "x-amz-x509-chain" in headers["Authorization"]
    _sign(pki, chain=[pki.intermediate] * 5)
    with pytest.raises(SignatureError, match="at most 5"):
        _sign(pki, chain=[pki.intermediate] * 6)
    # a PEM bundle works too
    assert _sign(pki, chain=pki.chain_pem)["X-Amz-X509-Chain"]


def test_mismatched_key_is_refused():
    one, other = make_pki("ec"), make_pki("ec")
    with pytest.raises(SignatureError, match="does not match"):
        sign_request(
            "POST",
            "https://rolesanywhere.us-east-1.amazonaws.com/sessions",
            {},
            b"",
            one.leaf,
            other.leaf_key,
        )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x/sessions", "http or https"),
        ("https://user:pw@x/sessions", "user information"),
        ("https:///sessions", "no host"),
        ("https://x:99999/sessions", "invalid URL"),
        ("https://x.example/sessions", "region"),
    ],
)
def test_unsignable_urls_are_refused(url, message):
    with pytest.raises(SignatureError, match=message):
        _sign(make_pki("ec"), url)


def test_caller_cannot_override_signer_headers_or_inject_newlines():
    pki = make_pki("ec")
    headers = sign_request(
        "POST",
        "https://rolesanywhere.us-east-1.amazonaws.com/sessions",
        {"Host": "evil.example", "X-Amz-Date": "19990101T000000Z", "Authorization": "x"},
        b"",
        pki.leaf,
        pki.leaf_key,
        now=NOW,
    )
    assert headers["Host"] == "rolesanywhere.us-east-1.amazonaws.com"
    assert headers["X-Amz-Date"] == "20240102T030405Z"
    with pytest.raises(SignatureError, match="line break"):
        sign_request(
            "POST",
            "https://rolesanywhere.us-east-1.amazonaws.com/sessions",
            {"X-Extra": "a\r\nb"},
            b"",
            pki.leaf,
            pki.leaf_key,
        )


def test_pem_inputs_and_garbage():
    pki = make_pki("rsa")
    headers = _sign(pki)  # objects
    assert (
        sign_request(
            "POST",
            "https://rolesanywhere.us-east-1.amazonaws.com/sessions",
            {"Content-Type": "application/json"},
            b"{}",
            pki.leaf_pem,
            pki.leaf_key_pem,
            now=NOW,
        )
        == headers
    )  # RSA is deterministic
    with pytest.raises(SignatureError, match="certificate"):
        _sign(pki.__class__(**{**pki.__dict__, "leaf": b"garbage"}))
    with pytest.raises(SignatureError, match="private key"):
        sign_request(
            "POST",
            "https://rolesanywhere.us-east-1.amazonaws.com/sessions",
            {},
            b"",
            pki.leaf,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )


def test_create_session_request_shape_and_validation():
    pki = make_pki("ec")
    request = sign_create_session(
        certificate=pki.leaf,
        private_key=pki.leaf_key,
        trust_anchor_arn=TRUST_ANCHOR_ARN,
        profile_arn=PROFILE_ARN,
        role_arn=ROLE_ARN,
        endpoint_url="http://127.0.0.1:4566/",
        role_session_name="alice",
        duration_seconds=3600,
        now=NOW,
    )
    assert request.method == "POST" and request.url == "http://127.0.0.1:4566/sessions"
    assert json.loads(request.body) == {
        "durationSeconds": 3600,
        "profileArn": PROFILE_ARN,
        "roleArn": ROLE_ARN,
        "roleSessionName": "alice",
        "trustAnchorArn": TRUST_ANCHOR_ARN,
    }
    assert request.headers["Content-Type"] == "application/json"
    assert "/us-east-1/rolesanywhere/" in request.headers["Authorization"]
    verified = verify_request(
        method="POST",
        path="/sessions",
        query_string="",
        headers=request.headers,
        body=request.body,
        now=NOW,
    )
    assert verified.role_session_name == "alice"
    assert "secret" not in repr(request) and "Authorization" not in repr(request)

    other_region = PROFILE_ARN.replace("us-east-1", "eu-west-1")
    with pytest.raises(ValueError, match="different regions"):
        sign_create_session(
            certificate=pki.leaf,
            private_key=pki.leaf_key,
            trust_anchor_arn=TRUST_ANCHOR_ARN,
            profile_arn=other_region,
            role_arn=ROLE_ARN,
            endpoint_url="http://x",
        )
    bad: Any
    for bad in (True, 899, 43201, 3600.0):
        with pytest.raises(ValueError, match="duration_seconds"):
            sign_create_session(
                certificate=pki.leaf,
                private_key=pki.leaf_key,
                trust_anchor_arn=TRUST_ANCHOR_ARN,
                profile_arn=PROFILE_ARN,
                role_arn=ROLE_ARN,
                endpoint_url="http://x",
                duration_seconds=bad,
            )
