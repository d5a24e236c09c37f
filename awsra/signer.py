"""Client side of the Roles Anywhere signing process: SigV4 canonical request signed with the
certificate's private key (RSA PKCS#1 v1.5 or ECDSA DER, both over SHA-256)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from awsra.arn import parse_profile_arn, parse_role_arn, parse_trust_anchor_arn
from awsra.errors import SignatureError
from awsra.keys import (
    CertificateInput,
    PrivateKey,
    PrivateKeyInput,
    load_certificate,
    load_certificates,
    load_private_key,
)
from awsra.sigv4 import (
    ALGORITHM_ECDSA,
    ALGORITHM_RSA,
    AMZ_DATE_FORMAT,
    SERVICE,
    canonical_header_value,
    canonical_request,
    credential_scope,
    sha256_hex,
    string_to_sign,
)

__all__ = [
    "MAX_CHAIN_LENGTH",
    "SESSION_NAME_RE",
    "CreateSessionSigner",
    "SignedRequest",
    "SigningIdentity",
    "algorithm_for_key",
    "build_create_session_body",
    "certificate_header_value",
    "prepare_create_session",
    "sign_create_session",
    "sign_request",
    "sign_string",
]

MAX_CHAIN_LENGTH = 5
DURATION_MIN, DURATION_MAX = 900, 43200
SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}\Z", re.ASCII)

# Never signed: Authorization carries the signature, and these are rewritten by proxies and
# HTTP stacks (the same list as botocore's and the Go helper's, merged).
UNSIGNED_HEADERS = frozenset(
    {"authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding", "connection"}
)
# Set by the signer itself; a caller's value for these would be ignored anyway.
_SIGNER_HEADERS = frozenset({"host", "x-amz-date", "x-amz-x509", "x-amz-x509-chain"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ENDPOINT_REGION_RE = re.compile(
    r"rolesanywhere(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})\.", re.ASCII
)


@dataclass(frozen=True)
class SignedRequest:
    """A signed request ready to send: method, full URL, headers (Authorization included), body."""

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)


def algorithm_for_key(private_key: PrivateKey) -> str:
    """Return the Authorization algorithm for a key: decided by key type, never by the cert."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return ALGORITHM_RSA
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return ALGORITHM_ECDSA
    raise SignatureError(f"unsupported private key type {type(private_key).__name__}")


def sign_string(private_key: PrivateKey, text: str) -> str:
    """Sign `text` (UTF-8) with SHA-256 and return the lowercase hex signature."""
    data = text.encode("utf-8")
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256()).hex()
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(hashes.SHA256())).hex()
    raise SignatureError(f"unsupported private key type {type(private_key).__name__}")


@lru_cache(maxsize=128)
def _certificate_facts(certificate: x509.Certificate) -> tuple[str, int, bytes]:
    """(base64 DER, serial, SubjectPublicKeyInfo DER) — cached because signing repeats them."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii"), certificate.serial_number, spki


def certificate_header_value(certificate: x509.Certificate) -> str:
    """Return the single-line standard base64 of the certificate's DER (the X-Amz-X509 value)."""
    return _certificate_facts(certificate)[0]


# Not cached: a cache would keep short-lived leaf private keys alive in memory.
def _key_spki(private_key: PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _host_header(url: str) -> tuple[str, str, str]:
    """Return (Host header value, raw path, raw query) of `url`, refusing what cannot be signed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SignatureError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise SignatureError(f"URL must be http or https: {url!r}")
    if not parts.hostname:
        raise SignatureError(f"URL has no host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise SignatureError("URL must not contain user information")
    if parts.fragment:
        raise SignatureError(f"URL must not contain a fragment: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return host, parts.path or "/", parts.query


def _region_from_host(host: str) -> str:
    match = _ENDPOINT_REGION_RE.match(host)
    if match is None:
        raise SignatureError(f"cannot tell the signing region from host {host!r}; pass region=")
    return match.group(1)


def _chain_certificates(
    leaf: x509.Certificate, chain: Iterable[CertificateInput] | bytes | str
) -> list[x509.Certificate]:
    certificates = [cert for cert in load_certificates(chain) if cert != leaf]
    if len(certificates) > MAX_CHAIN_LENGTH:
        raise SignatureError(
            f"certificate chain has {len(certificates)} certificates besides the leaf; "
            f"Roles Anywhere accepts at most {MAX_CHAIN_LENGTH}"
        )
    return certificates


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str,
    certificate: CertificateInput,
    private_key: PrivateKeyInput,
    chain: Iterable[CertificateInput] | bytes | str = (),
    now: datetime | None = None,
    *,
    region: str | None = None,
    service: str = SERVICE,
) -> dict[str, str]:
    """Sign a request with an X.509 certificate and return every header to send.

    All given headers are signed except Authorization, User-Agent, X-Amzn-Trace-Id and
    hop-by-hop ones; Host (from `url`, non-default port kept), X-Amz-Date, X-Amz-X509 and
    X-Amz-X509-Chain (intermediates, leaf excluded, at most 5) are added and signed.
    `region` defaults to the one in a `rolesanywhere.<region>.` host.
    """
    cert = load_certificate(certificate)
    key = load_private_key(private_key)
    algorithm = algorithm_for_key(key)
    x509_value, serial, cert_spki = _certificate_facts(cert)
    if _key_spki(key) != cert_spki:
        raise SignatureError("the private key does not match the certificate's public key")
    intermediates = _chain_certificates(cert, chain)
    host, path, query = _host_header(url)
    signing_region = region if region is not None else _region_from_host(host)
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise SignatureError("signing time must be timezone-aware")
    amz_date = when.astimezone(UTC).strftime(AMZ_DATE_FORMAT)
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)

    out: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _SIGNER_HEADERS or lowered == "authorization":
            continue
        if "\n" in value or "\r" in value:
            raise SignatureError(f"header {name!r} contains a line break")
        out[name] = value
    out["Host"] = host
    out["X-Amz-Date"] = amz_date
    out["X-Amz-X509"] = x509_value
    if intermediates:
        out["X-Amz-X509-Chain"] = ",".join(certificate_header_value(c) for c in intermediates)

    pairs = [(name.lower(), value) for name, value in out.items()]
    signed = sorted({name for name, _ in pairs if name not in UNSIGNED_HEADERS})
    canonical = canonical_request(
        method=method,
        path=path,
        query=query,
        headers=pairs,
        signed_headers=signed,
        payload_sha256=sha256_hex(payload),
    )
    scope = credential_scope(amz_date, signing_region, service)
    signature = sign_string(key, string_to_sign(algorithm, amz_date, scope, canonical))
    out["Authorization"] = (
        f"{algorithm} Credential={serial}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return out


def build_create_session_body(
    *,
    trust_anchor_arn: str,
    profile_arn: str,
    role_arn: str,
    role_session_name: str | None = None,
    duration_seconds: int | None = None,
) -> bytes:
    """Return the JSON body of a CreateSession request, validating every field first.

    Optional members are omitted rather than sent as null: the service refuses
    roleSessionName unless the profile accepts it, and an omitted durationSeconds lets the
    profile's own duration apply.
    """
    trust_anchor = parse_trust_anchor_arn(trust_anchor_arn)
    profile = parse_profile_arn(profile_arn)
    role = parse_role_arn(role_arn)
    if (profile.partition, profile.region) != (trust_anchor.partition, trust_anchor.region):
        raise ValueError(
            f"trust anchor and profile are in different regions "
            f"({trust_anchor.region} vs {profile.region})"
        )
    if role.partition != trust_anchor.partition:
        raise ValueError(f"role ARN is in partition {role.partition}, not {trust_anchor.partition}")
    body: dict[str, object] = {}
    if duration_seconds is not None:
        if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int):
            raise ValueError("duration_seconds must be an integer number of seconds")
        if not DURATION_MIN <= duration_seconds <= DURATION_MAX:
            raise ValueError(
                f"duration_seconds must be between {DURATION_MIN} and {DURATION_MAX}, "
                f"got {duration_seconds}"
            )
        body["durationSeconds"] = duration_seconds
    body["profileArn"] = profile.arn
    body["roleArn"] = role.arn
    if role_session_name is not None:
        if not isinstance(role_session_name, str) or not SESSION_NAME_RE.match(role_session_name):
            raise ValueError(
                "role_session_name must be 2-64 characters from [A-Za-z0-9_+=,.@-], "
                f"got {role_session_name!r}"
            )
        body["roleSessionName"] = role_session_name
    body["trustAnchorArn"] = trust_anchor.arn
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def sign_create_session(
    *,
    certificate: CertificateInput,
    private_key: PrivateKeyInput,
    trust_anchor_arn: str,
    profile_arn: str,
    role_arn: str,
    endpoint_url: str,
    role_session_name: str | None = None,
    duration_seconds: int | None = None,
    chain: Iterable[CertificateInput] | bytes | str = (),
    now: datetime | None = None,
) -> SignedRequest:
    """Build and sign a JSON-body `POST <endpoint>/sessions`; region from the trust anchor ARN."""
    body = build_create_session_body(
        trust_anchor_arn=trust_anchor_arn,
        profile_arn=profile_arn,
        role_arn=role_arn,
        role_session_name=role_session_name,
        duration_seconds=duration_seconds,
    )
    region = parse_trust_anchor_arn(trust_anchor_arn).region
    base = endpoint_url.rstrip("/")
    if "?" in base or "#" in base:
        raise SignatureError(f"endpoint URL must not have a query or fragment: {endpoint_url!r}")
    url = f"{base}/sessions"
    headers = sign_request(
        "POST",
        url,
        {"Content-Type": "application/json"},
        body,
        certificate,
        private_key,
        chain,
        now,
        region=region,
    )
    return SignedRequest(method="POST", url=url, headers=headers, body=body)


class CreateSessionSigner:
    """A CreateSession request prepared once (body, its hash, URL, scope suffix, header layout),
    signed per call with a fresh certificate: only what changes is computed per request.

    Signs exactly what `sign_create_session` signs (Content-Type, Host, X-Amz-Date, X-Amz-X509
    and, with intermediates, X-Amz-X509-Chain), so the two produce the same headers for the
    same inputs (tests/awsra/test_awsra_fast_signer.py checks that, the vectors, the verifier,
    and the independent `iam-rolesanywhere-session`).
    """

    __slots__ = (
        "_canonical_head",
        "_payload_hash",
        "_region",
        "_scope_tail",
        "_tail",
        "_tail_chain",
        "body",
        "content_type",
        "host",
        "url",
    )

    def __init__(
        self,
        *,
        trust_anchor_arn: str,
        profile_arn: str,
        role_arn: str,
        endpoint_url: str,
        role_session_name: str | None = None,
        duration_seconds: int | None = None,
        content_type: str = "application/json",
    ) -> None:
        if content_type not in ("application/json", "application/x-amz-json-1.0"):
            raise SignatureError(f"unsupported content type {content_type!r}")
        self.content_type = content_type
        self.body = build_create_session_body(
            trust_anchor_arn=trust_anchor_arn,
            profile_arn=profile_arn,
            role_arn=role_arn,
            role_session_name=role_session_name,
            duration_seconds=duration_seconds,
        )
        self._region = parse_trust_anchor_arn(trust_anchor_arn).region
        base = endpoint_url.rstrip("/")
        if "?" in base or "#" in base:
            raise SignatureError(
                f"endpoint URL must not have a query or fragment: {endpoint_url!r}"
            )
        self.url = f"{base}/sessions"
        host, path, query = _host_header(self.url)
        if "\n" in host or "\r" in host:
            raise SignatureError("host contains a line break")
        self.host = host
        self._payload_hash = sha256_hex(self.body)
        # The canonical request up to the first per-call value (method, URI, query, then the
        # headers that never change), in the layout `canonical_request` produces.
        empty = canonical_request(
            method="POST", path=path, query=query, headers=(), signed_headers=(), payload_sha256=""
        )
        method, uri, canonical_query = empty.split("\n")[:3]
        self._canonical_head = (
            f"{method}\n{uri}\n{canonical_query}\n"
            f"content-type:{content_type}\nhost:{canonical_header_value(host)}\nx-amz-date:"
        )
        self._scope_tail = f"/{self._region}/{SERVICE}/aws4_request"
        self._tail = f"\n{_SIGNED}\n{self._payload_hash}"
        self._tail_chain = f"\n{_SIGNED_CHAIN}\n{self._payload_hash}"

    def sign(
        self,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        chain: Sequence[x509.Certificate] = (),
        now: datetime | None = None,
    ) -> SignedRequest:
        """Sign the prepared request with this certificate and key (checked to match)."""
        identity = SigningIdentity.from_certificate(certificate, private_key, chain)
        return self.sign_as(identity, now)

    def sign_as(self, identity: SigningIdentity, now: datetime | None = None) -> SignedRequest:
        """Sign the prepared request as `identity` (no key check: see SigningIdentity)."""
        amz_date = _amz_date(now)
        headers = {
            "Content-Type": self.content_type,
            "Host": self.host,
            "X-Amz-Date": amz_date,
            "X-Amz-X509": identity.x509_value,
        }
        chain_value = identity.chain_value
        if chain_value is None:
            signed, tail = _SIGNED, self._tail
        else:
            headers["X-Amz-X509-Chain"] = chain_value
            signed, tail = _SIGNED_CHAIN, self._tail_chain
        canonical = f"{self._canonical_head}{amz_date}\n{identity.canonical_lines}{tail}"
        scope = f"{amz_date[:8]}{self._scope_tail}"
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        signature = identity.sign(
            f"{identity.algorithm}\n{amz_date}\n{scope}\n{digest}".encode("ascii")
        )
        headers["Authorization"] = (
            f"{identity.credential_prefix}{scope}, SignedHeaders={signed}, Signature={signature}"
        )
        return SignedRequest(method="POST", url=self.url, headers=headers, body=self.body)


_SIGNED = "content-type;host;x-amz-date;x-amz-x509"
_SIGNED_CHAIN = "content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain"
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_PKCS1V15 = padding.PKCS1v15()
# (Unix second, its X-Amz-Date): signing at the clock's time formats each second once.
_CLOCK_DATE: list[tuple[int, str]] = [(-1, "")]


def _amz_date(now: datetime | None) -> str:
    """X-Amz-Date of `now` (timezone-aware), or of the current second."""
    if now is None:
        second = int(time.time())
        cached = _CLOCK_DATE[0]
        if cached[0] == second:
            return cached[1]
        text = time.strftime(AMZ_DATE_FORMAT, time.gmtime(second))
        _CLOCK_DATE[0] = (second, text)
        return text
    if now.tzinfo is None:
        raise SignatureError("signing time must be timezone-aware")
    return now.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


class SigningIdentity:
    """What a CreateSession is signed as: a leaf's DER (its header value computed once), the
    leaf's serial, its private key and the intermediates' DER.

    The constructor does not compare the key with the certificate, nor parse the DER: it is
    for a caller that generated the key and had the leaf made for it (Rolegate's issuance,
    where the CA signs a certificate over the key it just generated), so they match by
    construction and checking would only re-derive and compare a public key per call. Any
    other certificate and key go through `from_certificate`, which refuses a mismatch, as
    `CreateSessionSigner.sign`, `sign_request` and `create_session(certificate=...)` do.
    """

    __slots__ = (
        "algorithm",
        "canonical_lines",
        "certificate_der",
        "chain_der",
        "chain_value",
        "credential_prefix",
        "private_key",
        "serial",
        "x509_value",
    )

    def __init__(
        self,
        *,
        certificate_der: bytes,
        serial: int,
        private_key: PrivateKey,
        chain_der: Sequence[bytes] = (),
    ) -> None:
        self.algorithm = algorithm_for_key(private_key)
        if len(chain_der) > MAX_CHAIN_LENGTH:
            raise SignatureError(
                f"certificate chain has {len(chain_der)} certificates besides the leaf; "
                f"Roles Anywhere accepts at most {MAX_CHAIN_LENGTH}"
            )
        self.certificate_der = bytes(certificate_der)
        self.serial = serial
        self.private_key = private_key
        self.chain_der = tuple(bytes(der) for der in chain_der)
        self.x509_value = base64.b64encode(self.certificate_der).decode("ascii")
        lines = f"x-amz-x509:{self.x509_value}\n"
        if self.chain_der:
            self.chain_value: str | None = ",".join(
                base64.b64encode(der).decode("ascii") for der in self.chain_der
            )
            lines += f"x-amz-x509-chain:{self.chain_value}\n"
        else:
            self.chain_value = None
        self.canonical_lines = lines
        self.credential_prefix = f"{self.algorithm} Credential={serial}/"

    @classmethod
    def from_certificate(
        cls,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        chain: Sequence[x509.Certificate] = (),
    ) -> SigningIdentity:
        """The identity of a certificate and key from elsewhere, refusing a key that is not
        the certificate's (the leaf itself is dropped from `chain`)."""
        algorithm_for_key(private_key)
        if certificate.public_key() != private_key.public_key():
            raise SignatureError("the private key does not match the certificate's public key")
        intermediates = [cert for cert in chain if cert != certificate]
        if len(intermediates) > MAX_CHAIN_LENGTH:
            raise SignatureError(
                f"certificate chain has {len(intermediates)} certificates besides the leaf; "
                f"Roles Anywhere accepts at most {MAX_CHAIN_LENGTH}"
            )
        return cls(
            certificate_der=certificate.public_bytes(serialization.Encoding.DER),
            serial=certificate.serial_number,
            private_key=private_key,
            chain_der=[cert.public_bytes(serialization.Encoding.DER) for cert in intermediates],
        )

    def sign(self, data: bytes) -> str:
        """The lowercase hex SHA-256 signature of `data` with the identity's key."""
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, _ECDSA_SHA256).hex()
        return key.sign(data, _PKCS1V15, hashes.SHA256()).hex()

    def __repr__(self) -> str:  # never the key
        return f"SigningIdentity(serial={self.serial}, chain={len(self.chain_der)})"


@lru_cache(maxsize=1024, typed=True)
def prepare_create_session(
    *,
    trust_anchor_arn: str,
    profile_arn: str,
    role_arn: str,
    endpoint_url: str,
    role_session_name: str | None = None,
    duration_seconds: int | None = None,
    content_type: str = "application/json",
) -> CreateSessionSigner:
    """A `CreateSessionSigner` for these fields, built once and reused: issuance sends the
    same (anchor, profile, role, endpoint, session name, duration) again and again, so the
    body, its hash and the header layout are not rebuilt per call. The signer holds no
    secret (ARNs, URL, body) and is never changed after it is built."""
    return CreateSessionSigner(
        trust_anchor_arn=trust_anchor_arn,
        profile_arn=profile_arn,
        role_arn=role_arn,
        endpoint_url=endpoint_url,
        role_session_name=role_session_name,
        duration_seconds=duration_seconds,
        content_type=content_type,
    )
