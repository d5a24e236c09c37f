"""SigV4 canonicalisation shared by the X.509 signer and verifier (AWS "SigV4-X509").

The request is canonicalised exactly like ordinary SigV4; only the final signature differs
(it is made with the certificate's private key instead of an HMAC chain).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote

__all__ = [
    "ALGORITHM_ECDSA",
    "ALGORITHM_RSA",
    "AMZ_DATE_FORMAT",
    "EMPTY_PAYLOAD_SHA256",
    "SERVICE",
    "canonical_header_value",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "credential_scope",
    "sha256_hex",
    "string_to_sign",
]

ALGORITHM_RSA = "AWS4-X509-RSA-SHA256"
ALGORITHM_ECDSA = "AWS4-X509-ECDSA-SHA256"
SERVICE = "rolesanywhere"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

_SPACES = re.compile(r" +")


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def canonical_uri(path: str) -> str:
    """Return the canonical URI of a raw (already percent-encoded) request path.

    Non-S3 SigV4 encodes the path once more, as botocore and the Go helper do; for the paths
    Roles Anywhere uses ("/sessions") this is the identity.
    """
    return quote(path or "/", safe="/~")


def canonical_query_string(query: str) -> str:
    """Return the canonical query string: decoded, RFC 3986 re-encoded, sorted by key then value."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    encoded = sorted((quote(key, safe="-_.~"), quote(value, safe="-_.~")) for key, value in pairs)
    return "&".join(f"{key}={value}" for key, value in encoded)


def canonical_header_value(value: str) -> str:
    """Trim a header value and collapse runs of spaces, as SigV4 requires."""
    return _SPACES.sub(" ", value.strip())


def canonical_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    signed_headers: Iterable[str],
    payload_sha256: str,
) -> str:
    """Build the SigV4 canonical request.

    `headers` holds (lowercase name, value) pairs; a name that occurs more than once has its
    values joined with ",". Only the names in `signed_headers` (in that order) are used.
    """
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(canonical_header_value(value))
    names = list(signed_headers)
    header_lines = "".join(f"{name}:{','.join(values.get(name, []))}\n" for name in names)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query_string(query),
            header_lines,
            ";".join(names),
            payload_sha256,
        ]
    )


def credential_scope(amz_date: str, region: str, service: str = SERVICE) -> str:
    """Return `<YYYYMMDD>/<region>/<service>/aws4_request`."""
    return f"{amz_date[:8]}/{region}/{service}/aws4_request"


def string_to_sign(algorithm: str, amz_date: str, scope: str, canonical: str) -> str:
    """Return the string to sign (no trailing newline)."""
    return "\n".join([algorithm, amz_date, scope, sha256_hex(canonical.encode("utf-8"))])
