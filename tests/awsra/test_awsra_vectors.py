"""The §2.9 vectors: the signer reproduces every RSA one bit for bit; the verifier accepts every
one and refuses each after a single, targeted change."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from awsra.errors import VerificationError
from awsra.signer import sign_request
from awsra.sigv4 import canonical_request
from awsra.verifier import verify_request
from tests.awsra.awsra_support import (
    ALL_VECTORS,
    RSA_VECTORS,
    SHARED_VECTORS_DIR,
    VECTORS_DIR,
    Vector,
)

ids = [v.name for v in ALL_VECTORS]


def _verify(vector: Vector, **changes: object):
    args: dict[str, object] = {
        "method": "POST",
        "path": vector.path,
        "query_string": vector.query,
        "headers": vector.wire_headers(),
        "body": vector.body,
        "now": vector.signed_at,
        "expected_service": vector.service,
    }
    args.update(changes)
    return verify_request(**args)  # type: ignore[arg-type]


def test_local_copy_matches_shared_vectors():
    if not SHARED_VECTORS_DIR.is_dir():
        pytest.skip(f"shared vectors not checked out at {SHARED_VECTORS_DIR}")
    shared = {p.name: p.read_bytes() for p in SHARED_VECTORS_DIR.iterdir() if p.is_file()}
    assert shared, "shared vectors directory is empty"
    for name, data in shared.items():
        if name == "README.md":
            continue
        assert (VECTORS_DIR / name).read_bytes() == data, f"{name} differs from shared/"


def test_every_vector_has_an_expected_signature():
    assert sorted(v.name for v in ALL_VECTORS) == sorted(
        [
            "TV-E1",
            "TV-E2",
            "TV-E3",
            "TV-E4",
            "TV-E5",
            "TV-E6",
            "TV-N1",
            "TV-G1",
            "TV-G2",
            "TV-P1",
            "TV-C1",
        ]
    )


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=ids)
def test_canonical_request_hash(vector: Vector):
    headers = [(k.lower(), v) for k, v in vector.wire_headers().items()]
    canonical = canonical_request(
        method="POST",
        path=vector.path,
        query=vector.query,
        headers=headers,
        signed_headers=vector.signed_headers.split(";"),
        payload_sha256=hashlib.sha256(vector.body).hexdigest(),
    )
    if vector.payload_sha256:
        assert canonical.endswith("\n" + vector.payload_sha256)
    assert hashlib.sha256(canonical.encode()).hexdigest() == vector.canonical_sha256


@pytest.mark.parametrize("vector", RSA_VECTORS, ids=[v.name for v in RSA_VECTORS])
def test_signer_reproduces_rsa_vector(vector: Vector):
    headers = sign_request(
        "POST",
        vector.url,
        vector.extra_headers,
        vector.body,
        vector.certificate,
        vector.private_key,
        vector.chain,
        vector.signed_at,
        region=vector.region,
        service=vector.service,
    )
    expected = vector.wire_headers()
    assert headers["Authorization"] == expected["Authorization"]
    for name in ("Host", "X-Amz-Date", "X-Amz-X509"):
        assert headers[name] == expected[name]
    assert headers.get("X-Amz-X509-Chain") == expected.get("X-Amz-X509-Chain")


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=ids)
def test_verifier_accepts_vector(vector: Vector):
    verified = _verify(vector)
    assert verified.serial == vector.certificate.serial_number
    assert verified.certificate == vector.certificate
    assert verified.chain == list(vector.chain)
    assert verified.algorithm == vector.algorithm
    assert verified.region == vector.region
    assert verified.signed_at == vector.signed_at
    assert ";".join(verified.signed_headers) == vector.signed_headers


def _flip_digit(signature: str, index: int) -> str:
    digit = signature[index]
    replacement = "0" if digit != "0" else "1"
    return signature[:index] + replacement + signature[index + 1 :]


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=ids)
@pytest.mark.parametrize("index", [0, 37, -1])
def test_verifier_refuses_flipped_signature_digit(vector: Vector, index: int):
    headers = vector.wire_headers()
    position = index % len(vector.signature)
    flipped = _flip_digit(vector.signature, position)
    assert flipped != vector.signature
    headers["Authorization"] = headers["Authorization"].replace(vector.signature, flipped)
    with pytest.raises(VerificationError, match="signature does not match"):
        _verify(vector, headers=headers)


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=ids)
def test_verifier_refuses_changed_body_byte(vector: Vector):
    body = bytearray(vector.body)
    middle = len(body) // 2
    body[middle] = ord("X") if body[middle] != ord("X") else ord("Y")
    with pytest.raises(VerificationError, match="signature does not match"):
        _verify(vector, body=bytes(body))


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=ids)
@pytest.mark.parametrize("seconds", [1, -1])
def test_verifier_refuses_date_off_by_one_second(vector: Vector, seconds: int):
    """X-Amz-Date moved by one second is well inside the skew window of the fixed clock, so the
    refusal can only come from the signature covering the date."""
    headers = vector.wire_headers()
    moved = (vector.signed_at + timedelta(seconds=seconds)).strftime("%Y%m%dT%H%M%SZ")
    assert moved[:8] == vector.amz_date[:8]  # same day, so the credential scope still matches
    headers["X-Amz-Date"] = moved
    with pytest.raises(VerificationError, match="signature does not match"):
        _verify(vector, headers=headers)


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=ids)
def test_verifier_refuses_x509_missing_from_signed_headers(vector: Vector):
    headers = vector.wire_headers()
    names = vector.signed_headers.split(";")
    names.remove("x-amz-x509")
    headers["Authorization"] = headers["Authorization"].replace(
        f"SignedHeaders={vector.signed_headers}", f"SignedHeaders={';'.join(names)}"
    )
    with pytest.raises(VerificationError, match="required header 'x-amz-x509'"):
        _verify(vector, headers=headers)


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=ids)
def test_verifier_refuses_outside_clock_skew(vector: Vector):
    with pytest.raises(VerificationError, match="away from server time"):
        _verify(vector, now=vector.signed_at + timedelta(minutes=5, seconds=1))
    # ...and exactly at the edge of the window it is still accepted.
    assert _verify(vector, now=vector.signed_at - timedelta(minutes=5)).serial


def test_verifier_reads_fields_from_the_body_form():
    vector = next(v for v in ALL_VECTORS if v.name == "TV-E4")
    verified = _verify(vector)
    assert verified.profile_arn == "arn:profile-arn"
    assert verified.role_arn == "arn:role-arn"
    assert verified.trust_anchor_arn == "arn:trust-anchor-arn"
    assert verified.role_session_name == "mysession"
    assert verified.duration_seconds == 3600  # Envoy sends 3600.0


def test_verifier_reads_fields_from_the_query_form():
    vector = next(v for v in ALL_VECTORS if v.name == "TV-G2")
    verified = _verify(vector)
    assert verified.profile_arn is not None and verified.profile_arn.endswith(
        "profile/11111111-2222-3333-4444-555555555555"
    )
    assert verified.role_arn == "arn:aws:iam::123456789012:role/RAExample"
    assert verified.trust_anchor_arn is not None
    assert verified.duration_seconds == 3600
    assert verified.role_session_name is None


def test_verifier_reads_the_x_amz_json_content_type():
    vector = next(v for v in ALL_VECTORS if v.name == "TV-P1")
    verified = _verify(vector)
    assert verified.role_arn == "arn:aws:iam::123456789012:role/RAExample"


def test_verifier_handles_header_names_in_any_case():
    vector = ALL_VECTORS[0]
    headers = {k.upper(): v for k, v in vector.wire_headers().items()}
    assert _verify(vector, headers=headers).serial == vector.certificate.serial_number
