"""Server side of the Roles Anywhere signing process: rebuild the canonical request from the
`SignedHeaders` the client sent and check the signature with the certificate in `X-Amz-X509`.

Certificate-path, revocation and policy checks are the caller's (the sandbox's) job; this module
answers only "did the holder of this certificate sign exactly this request, recently?".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from awsra.errors import VerificationError
from awsra.sigv4 import (
    ALGORITHM_ECDSA,
    ALGORITHM_RSA,
    AMZ_DATE_FORMAT,
    SERVICE,
    canonical_request,
    credential_scope,
    sha256_hex,
    string_to_sign,
)

__all__ = ["JSON_CONTENT_TYPES", "VerifiedRequest", "verify_request"]

MAX_CHAIN_LENGTH = 5
REQUIRED_SIGNED_HEADERS = ("host", "x-amz-date", "x-amz-x509")
JSON_CONTENT_TYPES = frozenset({"application/json", "application/x-amz-json-1.0"})
_REQUEST_FIELDS = ("profileArn", "roleArn", "trustAnchorArn")

_AUTHORIZATION_RE = re.compile(
    r"(?P<algorithm>\S+) Credential=(?P<credential>[^,\s]+), *"
    r"SignedHeaders=(?P<signed>[^,\s]+), *Signature=(?P<signature>[0-9a-fA-F]+)\Z",
    re.ASCII,
)
_CREDENTIAL_RE = re.compile(
    r"(?P<serial>0|[1-9][0-9]*)/(?P<date>[0-9]{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request\Z",
    re.ASCII,
)
_AMZ_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z\Z", re.ASCII)
_HEADER_NAME_RE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+\Z", re.ASCII)
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z", re.ASCII)


@dataclass(frozen=True)
class VerifiedRequest:
    """What a verified request proves: the signing certificate and the CreateSession fields."""

    certificate: x509.Certificate
    chain: list[x509.Certificate]
    serial: int
    algorithm: str
    region: str
    signed_at: datetime
    signed_headers: tuple[str, ...]
    profile_arn: str | None = None
    role_arn: str | None = None
    trust_anchor_arn: str | None = None
    duration_seconds: int | None = None
    role_session_name: str | None = None
    body_fields: dict[str, object] = field(default_factory=dict, repr=False)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in lowered:
            # A Mapping cannot hold true duplicates, but two spellings of one name can.
            lowered[key] = f"{lowered[key]},{value}"
        else:
            lowered[key] = value
    return lowered


def _decode_certificate(value: str, what: str) -> x509.Certificate:
    text = value.strip()
    if not text or not _BASE64_RE.match(text):
        raise VerificationError(f"{what} is not single-line standard base64")
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{what} is not valid base64") from None
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise VerificationError(f"{what} is not a DER X.509 certificate") from None
    if certificate.version is not x509.Version.v3:
        raise VerificationError(f"{what} is not an X.509 v3 certificate")
    return certificate


def _parse_signed_headers(raw: str, present: Mapping[str, str]) -> tuple[str, ...]:
    names = tuple(raw.split(";"))
    if any(not _HEADER_NAME_RE.match(name) for name in names):
        raise VerificationError(
            f"SignedHeaders {raw!r} must be lowercase header names joined by ';'"
        )
    if list(names) != sorted(set(names)):
        raise VerificationError(f"SignedHeaders {raw!r} must be sorted and without duplicates")
    if "authorization" in names:
        raise VerificationError("SignedHeaders must not include authorization")
    for required in REQUIRED_SIGNED_HEADERS:
        if required not in names:
            raise VerificationError(f"SignedHeaders does not include required header {required!r}")
    if "x-amz-x509-chain" in present and "x-amz-x509-chain" not in names:
        raise VerificationError("X-Amz-X509-Chain is present but not in SignedHeaders")
    for name in names:
        if name not in present:
            raise VerificationError(f"signed header {name!r} is missing from the request")
    return names


def _check_signature(
    certificate: x509.Certificate, algorithm: str, signature_hex: str, message: str
) -> None:
    public_key = certificate.public_key()
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        raise VerificationError("Signature is not hex") from None
    data = message.encode("utf-8")
    try:
        if algorithm == ALGORITHM_RSA:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise VerificationError(f"algorithm {algorithm} does not match the certificate key")
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise VerificationError(f"algorithm {algorithm} does not match the certificate key")
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise VerificationError(
            "signature does not match the request (canonical request or key differs)"
        ) from None


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _duration(value: object) -> int:
    # Envoy sends 3600.0, so an integral float is a valid duration.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VerificationError("durationSeconds must be a number")
    if isinstance(value, float) and not value.is_integer():
        raise VerificationError("durationSeconds must be a whole number of seconds")
    return int(value)


def _request_fields(
    query_string: str, body: bytes, content_type: str | None
) -> tuple[dict[str, str], dict[str, object]]:
    query: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key in query:
            raise VerificationError(f"query parameter {key!r} appears more than once")
        query[key] = value
    body_fields: dict[str, object] = {}
    if body.strip():
        if content_type is not None and _media_type(content_type) not in JSON_CONTENT_TYPES:
            raise VerificationError(
                f"unsupported Content-Type {content_type!r} "
                f"(use application/json or application/x-amz-json-1.0)"
            )
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise VerificationError("request body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise VerificationError("request body must be a JSON object")
        body_fields = parsed
    return query, body_fields


def _string_field(name: str, query: Mapping[str, str], body: Mapping[str, object]) -> str | None:
    in_query = query.get(name)
    in_body = body.get(name)
    if in_body is not None and not isinstance(in_body, str):
        raise VerificationError(f"{name} in the body must be a string")
    if in_query is not None and in_body is not None and in_query != in_body:
        raise VerificationError(f"{name} differs between the query string and the body")
    return in_query if in_query is not None else in_body


def verify_request(
    *,
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
    max_skew: timedelta = timedelta(minutes=5),
    check_skew: bool = True,
    expected_region: str | None = None,
    expected_service: str = SERVICE,
) -> VerifiedRequest:
    """Verify a SigV4-X509 signed request; raise VerificationError(reason) if it is not valid.

    `path` and `query_string` are as received (percent-encoded); `headers` is matched
    case-insensitively. Accepts ARNs in the query string or the JSON body, and both JSON
    content types. Does not check the certificate's chain, validity or revocation.
    """
    if not isinstance(body, bytes | bytearray):
        raise VerificationError("request body must be bytes")
    body = bytes(body)
    present = _lower_headers(headers)

    authorization = present.get("authorization")
    if authorization is None:
        raise VerificationError("missing Authorization header")
    auth = _AUTHORIZATION_RE.match(authorization.strip())
    if auth is None:
        raise VerificationError(
            "malformed Authorization header (expected '<algorithm> Credential=..., "
            "SignedHeaders=..., Signature=<hex>')"
        )
    algorithm = auth["algorithm"]
    if algorithm not in (ALGORITHM_RSA, ALGORITHM_ECDSA):
        raise VerificationError(f"unsupported signing algorithm {algorithm!r}")
    credential = _CREDENTIAL_RE.match(auth["credential"])
    if credential is None:
        raise VerificationError(
            "malformed Credential (expected '<decimal serial>/<YYYYMMDD>/<region>/<service>/"
            "aws4_request')"
        )
    if credential["service"] != expected_service:
        raise VerificationError(
            f"credential scope service is {credential['service']!r}, expected {expected_service!r}"
        )
    region = credential["region"]
    if expected_region is not None and region != expected_region:
        raise VerificationError(
            f"credential scope region is {region!r}, expected {expected_region!r}"
        )

    signed_headers = _parse_signed_headers(auth["signed"], present)

    amz_date = present["x-amz-date"].strip()
    if not _AMZ_DATE_RE.match(amz_date):
        raise VerificationError("X-Amz-Date must look like YYYYMMDDTHHMMSSZ")
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise VerificationError(f"X-Amz-Date {amz_date!r} is not a valid date") from None
    if credential["date"] != amz_date[:8]:
        raise VerificationError("credential scope date does not match X-Amz-Date")
    if check_skew:
        current = now if now is not None else datetime.now(UTC)
        if current.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        skew = abs(current - signed_at)
        if skew > max_skew:
            raise VerificationError(
                f"request time {signed_at.isoformat()} is {int(skew.total_seconds())}s away "
                f"from server time; at most {int(max_skew.total_seconds())}s is allowed"
            )

    certificate = _decode_certificate(present["x-amz-x509"], "X-Amz-X509")
    if int(credential["serial"]) != certificate.serial_number:
        raise VerificationError("Credential serial does not match the X-Amz-X509 certificate")
    chain: list[x509.Certificate] = []
    if "x-amz-x509-chain" in present:
        parts = present["x-amz-x509-chain"].split(",")
        if len(parts) > MAX_CHAIN_LENGTH:
            raise VerificationError(
                f"X-Amz-X509-Chain has {len(parts)} certificates; at most {MAX_CHAIN_LENGTH}"
            )
        chain = [
            _decode_certificate(part, f"X-Amz-X509-Chain certificate {index + 1}")
            for index, part in enumerate(parts)
        ]

    canonical = canonical_request(
        method=method,
        path=path,
        query=query_string,
        headers=present.items(),
        signed_headers=signed_headers,
        payload_sha256=sha256_hex(body),
    )
    scope = credential_scope(amz_date, region, credential["service"])
    _check_signature(
        certificate,
        algorithm,
        auth["signature"],
        string_to_sign(algorithm, amz_date, scope, canonical),
    )

    query, body_fields = _request_fields(query_string, body, present.get("content-type"))
    duration_value = body_fields.get("durationSeconds", query.get("durationSeconds"))
    duration: int | None = None
    if isinstance(duration_value, str):
        if not duration_value.isascii() or not duration_value.isdigit():
            raise VerificationError("durationSeconds must be a number")
        duration = int(duration_value)
    elif duration_value is not None:
        duration = _duration(duration_value)
    return VerifiedRequest(
        certificate=certificate,
        chain=chain,
        serial=certificate.serial_number,
        algorithm=algorithm,
        region=region,
        signed_at=signed_at,
        signed_headers=signed_headers,
        profile_arn=_string_field("profileArn", query, body_fields),
        role_arn=_string_field("roleArn", query, body_fields),
        trust_anchor_arn=_string_field("trustAnchorArn", query, body_fields),
        duration_seconds=duration,
        role_session_name=_string_field("roleSessionName", query, body_fields),
        body_fields=body_fields,
    )
