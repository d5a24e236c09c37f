"""Shared test data for awsra: the §2.9 vectors, a throwaway PKI, and a local HTTP peer."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"
# CI checks out /work/shared beside the clone; tests fall back to the copy above without it.
SHARED_VECTORS_DIR = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "vectors"
).resolve()


def read_vector(name: str) -> bytes:
    return (VECTORS_DIR / name).read_bytes()


SIGNATURES: dict[str, str] = json.loads(read_vector("signatures.json"))


def der_b64_file(name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(read_vector(name).strip()))


ENVOY_RSA_CERT = x509.load_pem_x509_certificate(read_vector("envoy-rsa-leaf.pem"))
ENVOY_RSA_KEY = serialization.load_pem_private_key(read_vector("envoy-rsa-key.pem"), None)
ENVOY_RSA_CHAIN = x509.load_pem_x509_certificate(read_vector("envoy-rsa-chain.pem"))
ENVOY_ECDSA_CERT = x509.load_pem_x509_certificate(read_vector("envoy-ecdsa-leaf.pem"))
NEEDROLESHERE_LEAF = der_b64_file("needroleshere-leaf.der.b64")
NEEDROLESHERE_SUBCA = der_b64_file("needroleshere-subca.der.b64")
NEEDROLESHERE_KEY = serialization.load_pem_private_key(
    read_vector("needroleshere-leaf-key.pem"), None
)


def b64_der(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


PROFILE_ARN = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:profile/11111111-2222-3333-4444-555555555555"
)
ROLE_ARN = "arn:aws:iam::123456789012:role/RAExample"
TRUST_ANCHOR_ARN = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/66666666-7777-8888-9999-000000000000"
)
GO_QUERY = (
    "profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3Aprofile%2F"
    "11111111-2222-3333-4444-555555555555&roleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole"
    "%2FRAExample&trustAnchorArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3A"
    "trust-anchor%2F66666666-7777-8888-9999-000000000000"
)

_ENVOY_BODY = (
    '{{"durationSeconds":{duration},"profileArn":"arn:profile-arn","roleArn":"arn:role-arn",'
    '{session}"trustAnchorArn":"arn:trust-anchor-arn"}}'
)
B_S = _ENVOY_BODY.format(duration="3600.0", session='"roleSessionName":"session",').encode()
B_M = _ENVOY_BODY.format(duration="3600.0", session='"roleSessionName":"mysession",').encode()
B_B = _ENVOY_BODY.format(duration="3600.0", session="").encode()
B_D = _ENVOY_BODY.format(duration="123.0", session='"roleSessionName":"mysession",').encode()
P1_BODY = json.dumps(
    {
        "durationSeconds": 3600,
        "profileArn": PROFILE_ARN,
        "roleArn": ROLE_ARN,
        "trustAnchorArn": TRUST_ANCHOR_ARN,
    }
).encode()


@dataclass(frozen=True)
class Vector:
    """One §2.9 vector: everything needed to sign it, and to rebuild its signed headers."""

    name: str
    host: str
    path: str
    query: str
    region: str
    service: str
    amz_date: str
    body: bytes
    certificate: x509.Certificate
    private_key: Any  # None for verify-only vectors
    chain: tuple[x509.Certificate, ...]
    extra_headers: dict[str, str]  # given to the signer (signed unless excluded by the rules)
    signed_headers: str
    algorithm: str
    canonical_sha256: str | None = None
    payload_sha256: str | None = None

    @property
    def signature(self) -> str:
        return SIGNATURES[self.name]

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.path}" + (f"?{self.query}" if self.query else "")

    @property
    def signed_at(self) -> datetime:
        return datetime.strptime(self.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    @property
    def authorization(self) -> str:
        scope = f"{self.amz_date[:8]}/{self.region}/{self.service}/aws4_request"
        return (
            f"{self.algorithm} Credential={self.certificate.serial_number}/{scope}, "
            f"SignedHeaders={self.signed_headers}, Signature={self.signature}"
        )

    def wire_headers(self) -> dict[str, str]:
        """The headers as the vector's client sent them, built without awsra's signer."""
        headers = dict(self.extra_headers)
        headers["Host"] = self.host
        headers["X-Amz-Date"] = self.amz_date
        headers["X-Amz-X509"] = b64_der(self.certificate)
        if self.chain:
            headers["X-Amz-X509-Chain"] = ",".join(b64_der(c) for c in self.chain)
        headers["Authorization"] = self.authorization
        return headers


_ENVOY_SIGNED = "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-x509"
_G_HEADERS = {
    "Content-Type": "application/json",
    "Amz-Sdk-Invocation-Id": "00000000-0000-4000-8000-000000000000",
    "Amz-Sdk-Request": "attempt=1; max=3",
    "User-Agent": "CredHelper/test",
}
_G_SIGNED = "amz-sdk-invocation-id;amz-sdk-request;content-type;host;x-amz-date;x-amz-x509"
RSA = "AWS4-X509-RSA-SHA256"


def _envoy(name: str, body: bytes, date: str, chain: bool, canonical: str) -> Vector:
    payload = hashlib.sha256(body).hexdigest()
    return Vector(
        name=name,
        host="rolesanywhere.ap-southeast-2.amazonaws.com",
        path="/sessions",
        query="",
        region="ap-southeast-2",
        service="rolesanywhere",
        amz_date=date,
        body=body,
        certificate=ENVOY_RSA_CERT,
        private_key=ENVOY_RSA_KEY,
        chain=(ENVOY_RSA_CHAIN,) if chain else (),
        extra_headers={"Content-Type": "application/json", "X-Amz-Content-Sha256": payload},
        signed_headers=_ENVOY_SIGNED + (";x-amz-x509-chain" if chain else ""),
        algorithm=RSA,
        canonical_sha256=canonical,
        payload_sha256=payload,
    )


RSA_VECTORS: list[Vector] = [
    _envoy(
        "TV-E1",
        B_S,
        "20180102T030405Z",
        False,
        "584a6a0680d5843aae4168c72c160cbb4cf011e97af416412bf3469e7d46de58",
    ),
    _envoy(
        "TV-E2",
        B_S,
        "20180102T030405Z",
        True,
        "c370b99845d644904a95751043bfc20521029eeaf4627997ec433d791d3cfbd5",
    ),
    _envoy(
        "TV-E3",
        B_S,
        "20180102T050405Z",
        True,
        "9ebe55fb9bf82029fae54f9ee04fdb2db7fcbb17cd9f1346e19cf52d19f8d4c4",
    ),
    _envoy(
        "TV-E4",
        B_M,
        "20180102T030405Z",
        False,
        "8817149e429609f62454813d7a65f1cbe693a1807660cae954ec86e74612c0e7",
    ),
    _envoy(
        "TV-E5",
        B_B,
        "20180102T030405Z",
        False,
        "54f6115f3d7bc92a8c2fae2da579f9f76b31af3a65c02e1f910128a2273fefba",
    ),
    _envoy(
        "TV-E6",
        B_D,
        "20180102T030405Z",
        False,
        "edbe0b8a2f094bd1d03549f5912f9e40afb70a76113784e94fb172c71e5522a0",
    ),
    Vector(
        name="TV-N1",
        host="service.test.invalid",
        path="/api",
        query="",
        region="us-east-1",
        service="service",
        amz_date="20220827T010203Z",
        body=b'{"foo": 123}',
        certificate=NEEDROLESHERE_LEAF,
        private_key=NEEDROLESHERE_KEY,
        chain=(NEEDROLESHERE_SUBCA,),
        extra_headers={"Content-Type": "application/json"},
        signed_headers="content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain",
        algorithm=RSA,
        canonical_sha256="ec6ee79334d78a4a3b4ac1a7f578e8c4ac7cc817fb06b6fb732dd71121f6e4be",
        payload_sha256="8ae301e76251dfa937e27312e3f89be4941c49e2094f3dafe614ed3c8235fbf9",
    ),
    Vector(
        name="TV-G1",
        host="rolesanywhere.us-east-1.amazonaws.com",
        path="/sessions",
        query=GO_QUERY,
        region="us-east-1",
        service="rolesanywhere",
        amz_date="20240102T030405Z",
        body=b'{"durationSeconds":3600}',
        certificate=ENVOY_RSA_CERT,
        private_key=ENVOY_RSA_KEY,
        chain=(),
        extra_headers=dict(_G_HEADERS),
        signed_headers=_G_SIGNED,
        algorithm=RSA,
        canonical_sha256="a7876e376e6ff3a0f0b53ff8cd00fada15b3680e6505ddb41d822dcc482a18e9",
        payload_sha256="1a15f67f6619aa540b13e9a4c37d149fb2c9bdea25d82b73a3878826694dfe27",
    ),
    Vector(
        name="TV-G2",
        host="rolesanywhere.us-east-1.amazonaws.com",
        path="/sessions",
        query=GO_QUERY,
        region="us-east-1",
        service="rolesanywhere",
        amz_date="20240102T030405Z",
        body=b'{"durationSeconds":3600}',
        certificate=ENVOY_RSA_CERT,
        private_key=ENVOY_RSA_KEY,
        chain=(ENVOY_RSA_CHAIN,),
        extra_headers=dict(_G_HEADERS),
        signed_headers=_G_SIGNED + ";x-amz-x509-chain",
        algorithm=RSA,
        canonical_sha256="48ee8d1564d809eb94cee23e2fc7eb513fe5a5a256bc4da5da8266d78dcbbdd4",
        payload_sha256="1a15f67f6619aa540b13e9a4c37d149fb2c9bdea25d82b73a3878826694dfe27",
    ),
    Vector(
        name="TV-P1",
        host="rolesanywhere.us-east-1.amazonaws.com",
        path="/sessions",
        query="",
        region="us-east-1",
        service="rolesanywhere",
        amz_date="20240102T030405Z",
        body=P1_BODY,
        certificate=ENVOY_RSA_CERT,
        private_key=ENVOY_RSA_KEY,
        chain=(),
        extra_headers={"Content-Type": "application/x-amz-json-1.0"},
        signed_headers="content-type;host;x-amz-date;x-amz-x509",
        algorithm=RSA,
        canonical_sha256="cb61d38dd78ab7271a318310b91064318ee2cb5306b390aeca736cbd4c0a4aa8",
    ),
]

ECDSA_VECTORS: list[Vector] = [
    Vector(
        name="TV-C1",
        host="rolesanywhere.us-east-1.amazonaws.com",
        path="/sessions",
        query=GO_QUERY,
        region="us-east-1",
        service="rolesanywhere",
        amz_date="20240102T030405Z",
        body=b'{"durationSeconds":3600}',
        certificate=ENVOY_ECDSA_CERT,
        private_key=None,
        chain=(),
        extra_headers={"Content-Type": "application/json"},
        signed_headers="content-type;host;x-amz-date;x-amz-x509",
        algorithm="AWS4-X509-ECDSA-SHA256",
        canonical_sha256="59b1f62a905c197f08dc7305fdc0fa6872288b391d728ecc9585cf8785d24f2a",
    )
]
ALL_VECTORS = RSA_VECTORS + ECDSA_VECTORS


# --- a throwaway PKI ---------------------------------------------------------------------------


@dataclass
class Pki:
    """A CA, an intermediate and a leaf with its key, minted for one test."""

    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: Any
    leaf_key_pem: bytes = field(repr=False, default=b"")
    leaf_pem: bytes = b""
    chain_pem: bytes = b""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    issuer: str,
    public_key: Any,
    signer: Any,
    *,
    ca: bool,
    hash_algorithm: Any = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signer, hash_algorithm or hashes.SHA256())


def make_pki(kind: str = "ec", *, leaf_hash: Any = None) -> Pki:
    """Mint root → intermediate → leaf; the leaf key is "ec" (P-256), "p384" or "rsa"."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        leaf_key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "p384":
        leaf_key = ec.generate_private_key(ec.SECP384R1())
    else:
        leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("test root", "test root", root_key.public_key(), root_key, ca=True)
    intermediate = _cert(
        "test intermediate", "test root", inter_key.public_key(), root_key, ca=True
    )
    leaf = _cert(
        "alice",
        "test intermediate",
        leaf_key.public_key(),
        inter_key,
        ca=False,
        hash_algorithm=leaf_hash,
    )
    return Pki(
        root=root,
        intermediate=intermediate,
        leaf=leaf,
        leaf_key=leaf_key,
        leaf_key_pem=leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        leaf_pem=leaf.public_bytes(serialization.Encoding.PEM),
        chain_pem=intermediate.public_bytes(serialization.Encoding.PEM),
    )


# --- a real local HTTP peer --------------------------------------------------------------------


@dataclass
class Recorded:
    """One request the local server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


Responder = Callable[[Recorded], tuple[int, dict[str, str], bytes]]


class LocalServer:
    """An http.server in a thread that records requests and answers through `responder`."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[Recorded] = []
        self.release = threading.Event()  # handlers that stall wait on this
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                recorded = Recorded(self.command, path, query, dict(self.headers.items()), body)
                outer.requests.append(recorded)
                status, headers, payload = outer.responder(recorded)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
