"""The specialised CreateSession signer (`CreateSessionSigner`) against everything else we trust.

It must produce exactly what the general `sign_request` path produces (which reproduces the
§2.9 RSA vectors bit for bit): for RSA keys, whose PKCS#1 v1.5 signatures are deterministic,
every header is compared byte for byte, with the vectors' own certificates and keys too; for
ECDSA the signature differs per call, so the request is checked by the awsra verifier, by the
minimal verifier written from the protocol text, and against the independent PyPI
`iam-rolesanywhere-session` signer on the same request at the same second.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSRequest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from iam_rolesanywhere_session import IAMRolesAnywhereSigner

from awsra.errors import SignatureError
from awsra.signer import (
    CreateSessionSigner,
    SigningIdentity,
    prepare_create_session,
    sign_create_session,
)
from awsra.verifier import verify_request
from tests.awsra.awsra_support import (
    ENVOY_RSA_CERT,
    ENVOY_RSA_CHAIN,
    ENVOY_RSA_KEY,
    PROFILE_ARN,
    ROLE_ARN,
    TRUST_ANCHOR_ARN,
    make_pki,
)
from tests.awsra.test_awsra_interop import minimal_verify

WHEN = datetime(2026, 6, 1, 12, 34, 56, tzinfo=UTC)
ENDPOINTS = [
    "https://rolesanywhere.us-east-1.amazonaws.com",
    "http://127.0.0.1:4566/",
    "https://proxy.example.test:8443/prefix",
]


def _both(endpoint: str, certificate, key, chain, *, session_name=None, duration=None):
    fields = {
        "trust_anchor_arn": TRUST_ANCHOR_ARN,
        "profile_arn": PROFILE_ARN,
        "role_arn": ROLE_ARN,
        "endpoint_url": endpoint,
        "role_session_name": session_name,
        "duration_seconds": duration,
    }
    fast = CreateSessionSigner(**fields).sign(certificate, key, chain, now=WHEN)
    general = sign_create_session(
        certificate=certificate, private_key=key, chain=chain, now=WHEN, **fields
    )
    return fast, general


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("with_chain", [False, True])
@pytest.mark.parametrize(("session_name", "duration"), [(None, None), ("alice", 900)])
def test_rsa_requests_equal_the_general_signer_byte_for_byte(
    endpoint: str, with_chain: bool, session_name: str | None, duration: int | None
) -> None:
    pki = make_pki("rsa")
    chain = [pki.intermediate] if with_chain else []
    fast, general = _both(
        endpoint, pki.leaf, pki.leaf_key, chain, session_name=session_name, duration=duration
    )
    assert (fast.method, fast.url, fast.body) == (general.method, general.url, general.body)
    assert list(fast.headers.items()) == list(general.headers.items())


@pytest.mark.parametrize("with_chain", [False, True])
def test_rsa_with_the_vector_certificates_equals_the_general_signer(with_chain: bool) -> None:
    chain = [ENVOY_RSA_CHAIN] if with_chain else []
    fast, general = _both(ENDPOINTS[0], ENVOY_RSA_CERT, ENVOY_RSA_KEY, chain, duration=3600)
    assert list(fast.headers.items()) == list(general.headers.items())


@pytest.mark.parametrize("kind", ["ec", "p384", "rsa"])
@pytest.mark.parametrize("with_chain", [False, True])
def test_fast_requests_verify_with_both_verifiers(kind: str, with_chain: bool) -> None:
    pki = make_pki(kind)
    chain = [pki.intermediate] if with_chain else []
    fast, general = _both(ENDPOINTS[1], pki.leaf, pki.leaf_key, chain, session_name="alice")
    # Everything but the (randomised, for ECDSA) signature equals the general signer's.
    assert fast.headers.keys() == general.headers.keys()
    for name in fast.headers:
        if name != "Authorization":
            assert fast.headers[name] == general.headers[name]
    assert (
        fast.headers["Authorization"].rsplit("=", 1)[0]
        == (general.headers["Authorization"].rsplit("=", 1)[0])
    )
    verified = verify_request(
        method="POST",
        path="/sessions",
        query_string="",
        headers=fast.headers,
        body=fast.body,
        now=WHEN,
    )
    assert verified.serial == pki.leaf.serial_number
    assert verified.chain == chain
    assert (verified.role_arn, verified.profile_arn) == (ROLE_ARN, PROFILE_ARN)
    assert minimal_verify("POST", fast.url, fast.headers, fast.body) == pki.leaf.serial_number


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_same_request_as_the_independent_library(kind: str) -> None:
    pki = make_pki(kind)
    prepared = CreateSessionSigner(
        trust_anchor_arn=TRUST_ANCHOR_ARN,
        profile_arn=PROFILE_ARN,
        role_arn=ROLE_ARN,
        endpoint_url=ENDPOINTS[0],
        duration_seconds=3600,
        # The content type the library always sends (AWS accepts both JSON types).
        content_type="application/x-amz-json-1.0",
    )
    library = IAMRolesAnywhereSigner(
        certificate=pki.leaf_pem, private_key=pki.leaf_key_pem, region="us-east-1"
    )
    request = AWSRequest(
        method="POST",
        url=prepared.url,
        data=prepared.body,
        headers={"Content-Type": prepared.content_type},
    )
    library.add_auth(request)  # the real clock; no network involved
    theirs = dict(request.headers.items())
    when = datetime.strptime(theirs["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    ours = prepared.sign(pki.leaf, pki.leaf_key, now=when).headers
    assert ours["Content-Type"] == theirs["Content-Type"]
    assert base64.b64decode(ours["X-Amz-X509"]) == base64.b64decode(theirs["X-Amz-X509"])
    their_auth, our_auth = theirs["Authorization"], ours["Authorization"]
    signed = their_auth.split("SignedHeaders=")[1].split(",")[0]
    assert our_auth.split("SignedHeaders=")[1].split(",")[0] == signed
    assert (
        our_auth.split(" Credential=")[1].split(",")[0]
        == (their_auth.split(" Credential=")[1].split(",")[0])
    )
    if kind == "rsa":  # deterministic: the very same signature
        assert our_auth == their_auth
    # And the library's request verifies with awsra too (so both sides agree on the bytes).
    verify_request(
        method="POST",
        path="/sessions",
        query_string="",
        headers=theirs,
        body=prepared.body,
        now=when,
    )


def test_refuses_a_key_that_is_not_the_certificates() -> None:
    pki = make_pki("ec")
    prepared = CreateSessionSigner(
        trust_anchor_arn=TRUST_ANCHOR_ARN,
        profile_arn=PROFILE_ARN,
        role_arn=ROLE_ARN,
        endpoint_url=ENDPOINTS[0],
    )
    with pytest.raises(SignatureError, match="does not match"):
        prepared.sign(pki.leaf, ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SignatureError, match="does not match"):
        prepared.sign(pki.leaf, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(SignatureError, match="at most 5"):
        prepared.sign(pki.leaf, pki.leaf_key, [pki.intermediate] * 6)
    with pytest.raises(SignatureError, match="timezone"):
        prepared.sign(pki.leaf, pki.leaf_key, now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="duration_seconds"):
        CreateSessionSigner(
            trust_anchor_arn=TRUST_ANCHOR_ARN,
            profile_arn=PROFILE_ARN,
            role_arn=ROLE_ARN,
            endpoint_url=ENDPOINTS[0],
            duration_seconds=60,
        )


# --- the issuance path: a SigningIdentity (leaf DER, key, chain DER) and sign_as -------------


def _identity(certificate, key, chain=()) -> SigningIdentity:
    """What issuance builds: the DER and serial it has, no parse and no key comparison."""
    return SigningIdentity(
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        serial=certificate.serial_number,
        private_key=key,
        chain_der=[c.public_bytes(serialization.Encoding.DER) for c in chain],
    )


def _fields(endpoint: str, **extra):
    return {
        "trust_anchor_arn": TRUST_ANCHOR_ARN,
        "profile_arn": PROFILE_ARN,
        "role_arn": ROLE_ARN,
        "endpoint_url": endpoint,
        **extra,
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("with_chain", [False, True])
@pytest.mark.parametrize(("session_name", "duration"), [(None, None), ("alice", 900)])
def test_sign_as_equals_sign_create_session_byte_for_byte(
    endpoint: str, with_chain: bool, session_name: str | None, duration: int | None
) -> None:
    pki = make_pki("rsa")  # deterministic signatures: every byte comparable
    chain = [pki.intermediate] if with_chain else []
    fields = _fields(endpoint, role_session_name=session_name, duration_seconds=duration)
    fast = prepare_create_session(**fields).sign_as(_identity(pki.leaf, pki.leaf_key, chain), WHEN)
    general = sign_create_session(
        certificate=pki.leaf, private_key=pki.leaf_key, chain=chain, now=WHEN, **fields
    )
    assert (fast.method, fast.url, fast.body) == (general.method, general.url, general.body)
    assert list(fast.headers.items()) == list(general.headers.items())


@pytest.mark.parametrize("with_chain", [False, True])
def test_sign_as_with_the_vector_certificates_equals_the_general_signer(with_chain: bool) -> None:
    # The general signer reproduces the §2.9 RSA vectors bit for bit (test_awsra_vectors.py).
    chain = [ENVOY_RSA_CHAIN] if with_chain else []
    fields = _fields(ENDPOINTS[0], duration_seconds=3600)
    fast = prepare_create_session(**fields).sign_as(
        _identity(ENVOY_RSA_CERT, ENVOY_RSA_KEY, chain), WHEN
    )
    general = sign_create_session(
        certificate=ENVOY_RSA_CERT, private_key=ENVOY_RSA_KEY, chain=chain, now=WHEN, **fields
    )
    assert list(fast.headers.items()) == list(general.headers.items())


@pytest.mark.parametrize("kind", ["ec", "p384", "rsa"])
@pytest.mark.parametrize("with_chain", [False, True])
def test_sign_as_verifies_with_both_verifiers(kind: str, with_chain: bool) -> None:
    pki = make_pki(kind)
    chain = [pki.intermediate] if with_chain else []
    prepared = prepare_create_session(**_fields(ENDPOINTS[1], role_session_name="alice"))
    fast = prepared.sign_as(_identity(pki.leaf, pki.leaf_key, chain), WHEN)
    general = sign_create_session(
        certificate=pki.leaf,
        private_key=pki.leaf_key,
        chain=chain,
        now=WHEN,
        **_fields(ENDPOINTS[1], role_session_name="alice"),
    )
    for name in general.headers:
        if name != "Authorization":
            assert fast.headers[name] == general.headers[name]
    assert fast.headers.keys() == general.headers.keys()
    verified = verify_request(
        method="POST",
        path="/sessions",
        query_string="",
        headers=fast.headers,
        body=fast.body,
        now=WHEN,
    )
    assert verified.serial == pki.leaf.serial_number
    assert verified.chain == chain
    assert minimal_verify("POST", fast.url, fast.headers, fast.body) == pki.leaf.serial_number


def test_sign_as_at_the_clock_time_is_dated_now_and_verifies() -> None:
    pki = make_pki("ec")
    before = datetime.now(UTC).replace(microsecond=0)
    signed = prepare_create_session(**_fields(ENDPOINTS[0])).sign_as(
        _identity(pki.leaf, pki.leaf_key)
    )
    after = datetime.now(UTC)
    when = datetime.strptime(signed.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= when <= after
    verify_request(
        method="POST", path="/sessions", query_string="", headers=signed.headers, body=signed.body
    )


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_sign_as_is_the_request_the_independent_library_makes(kind: str) -> None:
    pki = make_pki(kind)
    prepared = prepare_create_session(
        **_fields(ENDPOINTS[0], duration_seconds=3600, content_type="application/x-amz-json-1.0")
    )
    library = IAMRolesAnywhereSigner(
        certificate=pki.leaf_pem, private_key=pki.leaf_key_pem, region="us-east-1"
    )
    request = AWSRequest(
        method="POST",
        url=prepared.url,
        data=prepared.body,
        headers={"Content-Type": prepared.content_type},
    )
    library.add_auth(request)
    theirs = dict(request.headers.items())
    when = datetime.strptime(theirs["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    ours = prepared.sign_as(_identity(pki.leaf, pki.leaf_key), when).headers
    assert base64.b64decode(ours["X-Amz-X509"]) == base64.b64decode(theirs["X-Amz-X509"])
    their_auth, our_auth = theirs["Authorization"], ours["Authorization"]
    assert our_auth.split(", Signature=")[0] == their_auth.split(", Signature=")[0]
    if kind == "rsa":
        assert our_auth == their_auth
    else:  # ECDSA: both signatures verify over the same request
        for headers in (ours, {**ours, "Authorization": their_auth}):
            verify_request(
                method="POST",
                path="/sessions",
                query_string="",
                headers=headers,
                body=prepared.body,
                now=when,
            )


def test_prepared_signers_are_reused_per_request_shape() -> None:
    first = prepare_create_session(**_fields(ENDPOINTS[0], duration_seconds=900))
    assert prepare_create_session(**_fields(ENDPOINTS[0], duration_seconds=900)) is first
    assert prepare_create_session(**_fields(ENDPOINTS[0], duration_seconds=901)) is not first
    assert prepare_create_session(**_fields(ENDPOINTS[1], duration_seconds=900)) is not first
    named = prepare_create_session(
        **_fields(ENDPOINTS[0], duration_seconds=900, role_session_name="alice")
    )
    assert named is not first
    assert b'"roleSessionName":"alice"' in named.body
    # A float equal to a cached int is not served the int's signer: it is refused.
    with pytest.raises(ValueError, match="duration_seconds"):
        prepare_create_session(**_fields(ENDPOINTS[0], duration_seconds=900.0))


def test_identity_checks_what_it_can_and_hides_the_key() -> None:
    pki = make_pki("ec")
    with pytest.raises(SignatureError, match="does not match"):
        SigningIdentity.from_certificate(pki.leaf, ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SignatureError, match="at most 5"):
        SigningIdentity.from_certificate(pki.leaf, pki.leaf_key, [pki.intermediate] * 6)
    with pytest.raises(SignatureError, match="at most 5"):
        _identity(pki.leaf, pki.leaf_key, [pki.intermediate] * 6)
    with pytest.raises(SignatureError, match="unsupported private key"):
        SigningIdentity(certificate_der=b"x", serial=1, private_key="key")  # type: ignore[arg-type]
    # The leaf in its own chain is dropped, as sign_request drops it.
    identity = SigningIdentity.from_certificate(
        pki.leaf, pki.leaf_key, [pki.leaf, pki.intermediate]
    )
    assert identity.chain_der == (pki.intermediate.public_bytes(serialization.Encoding.DER),)
    key_text = pki.leaf_key_pem.decode()
    assert key_text not in repr(identity)
    assert repr(identity) == f"SigningIdentity(serial={pki.leaf.serial_number}, chain=1)"
