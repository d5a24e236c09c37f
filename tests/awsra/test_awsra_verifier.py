"""Verifier refusals beyond the vectors: each malformed input gets a precise reason."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from awsra.errors import VerificationError
from awsra.signer import sign_request
from awsra.verifier import verify_request
from tests.awsra.awsra_support import ROLE_ARN, b64_der, make_pki

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
URL = "https://rolesanywhere.us-east-1.amazonaws.com/sessions"


def _signed(pki, *, url=URL, body=b"{}", content_type="application/json", chain=()):
    headers = sign_request(
        "POST", url, {"Content-Type": content_type}, body, pki.leaf, pki.leaf_key, chain, NOW
    )
    return headers


def _verify(headers, *, body=b"{}", query="", **kwargs):
    return verify_request(
        method="POST",
        path="/sessions",
        query_string=query,
        headers=headers,
        body=body,
        now=NOW,
        **kwargs,
    )


@pytest.fixture(scope="module")
def pki():
    return make_pki("ec")


def test_missing_and_malformed_authorization(pki):
    headers = _signed(pki)
    del headers["Authorization"]
    with pytest.raises(VerificationError, match="missing Authorization"):
        _verify(headers)
    headers["Authorization"] = "AWS4-HMAC-SHA256 garbage"
    with pytest.raises(VerificationError, match="malformed Authorization"):
        _verify(headers)


def test_wrong_algorithm_service_region_and_serial(pki):
    good = _signed(pki)["Authorization"]
    cases = [
        (
            good.replace("AWS4-X509-ECDSA-SHA256", "AWS4-X509-RSA-SHA256"),
            "does not match the certificate key",
        ),
        (
            good.replace("AWS4-X509-ECDSA-SHA256", "AWS4-X509-MLDSA"),
            "unsupported signing algorithm",
        ),
        (good.replace("/rolesanywhere/", "/sts/"), "service is 'sts'"),
        (
            good.replace(f"Credential={pki.leaf.serial_number}", "Credential=12345"),
            "serial does not match",
        ),
        (
            good.replace(f"Credential={pki.leaf.serial_number}", "Credential=0012"),
            "malformed Credential",
        ),
        (good.replace("/20240102/", "/20240103/"), "scope date does not match"),
        (good.replace("content-type;host", "host;content-type"), "sorted"),
        (
            good.replace("x-amz-x509,", "x-amz-x509;zz-missing,"),
            "signed header 'zz-missing' is missing",
        ),
    ]
    for authorization, reason in cases:
        headers = _signed(pki)
        headers["Authorization"] = authorization
        with pytest.raises(VerificationError, match=reason):
            _verify(headers)
    headers = _signed(pki)
    with pytest.raises(VerificationError, match="region is 'us-east-1', expected 'eu-west-1'"):
        _verify(headers, expected_region="eu-west-1")


def test_chain_must_be_signed_and_at_most_five(pki):
    headers = _signed(pki)
    headers["X-Amz-X509-Chain"] = b64_der(pki.intermediate)
    with pytest.raises(VerificationError, match="not in SignedHeaders"):
        _verify(headers)
    headers = _signed(pki, chain=[pki.intermediate] * 5)
    assert len(_verify(headers).chain) == 5
    headers["X-Amz-X509-Chain"] = ",".join([b64_der(pki.intermediate)] * 6)
    with pytest.raises(VerificationError, match="at most 5"):
        _verify(headers)


def test_bad_certificate_encodings(pki):
    for value, reason in [("not base64!", "base64"), ("AAAA", "not a DER X.509")]:
        headers = _signed(pki)
        headers["X-Amz-X509"] = value
        with pytest.raises(VerificationError, match=reason):
            _verify(headers)


def test_bad_date(pki):
    headers = _signed(pki)
    headers["X-Amz-Date"] = "2024-01-02T03:04:05Z"
    with pytest.raises(VerificationError, match="YYYYMMDDTHHMMSSZ"):
        _verify(headers)


def test_body_rules_after_a_valid_signature(pki):
    headers = _signed(pki, body=b"a=b", content_type="application/x-www-form-urlencoded")
    with pytest.raises(VerificationError, match="unsupported Content-Type"):
        _verify(headers, body=b"a=b")
    headers = _signed(pki, body=b"{not json")
    with pytest.raises(VerificationError, match="not valid JSON"):
        _verify(headers, body=b"{not json")
    body = b'{"durationSeconds": 3600.5}'
    with pytest.raises(VerificationError, match="whole number"):
        _verify(_signed(pki, body=body), body=body)
    body = b'{"roleArn": "arn:aws:iam::123456789012:role/Other"}'
    url = f"{URL}?roleArn={quote(ROLE_ARN, safe='')}"
    headers = _signed(pki, url=url, body=body)
    with pytest.raises(VerificationError, match="differs between the query string and the body"):
        _verify(headers, body=body, query=f"roleArn={quote(ROLE_ARN, safe='')}")


def test_naive_clock_is_a_programming_error(pki):
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_request(
            method="POST",
            path="/sessions",
            query_string="",
            headers=_signed(pki),
            body=b"{}",
            now=datetime(2024, 1, 2),
        )
