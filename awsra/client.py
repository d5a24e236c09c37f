"""Roles Anywhere CreateSession client: sign, send, retry transient failures, parse credentials."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

import urllib3

from awsra.arn import parse_trust_anchor_arn
from awsra.credentials import Credentials
from awsra.egress import use_fips
from awsra.errors import (
    AnswerTimeoutError,
    AwsError,
    AwsTimeoutError,
    ConnectionLostError,
    TransientError,
    error_from_response,
)
from awsra.http import call_with_retries, http_request
from awsra.keys import (
    CertificateInput,
    PrivateKeyInput,
    load_certificate,
    load_certificates,
    load_private_key,
)
from awsra.partitions import get_partition
from awsra.signer import SigningIdentity, prepare_create_session

__all__ = [
    "ENDPOINT_ENV",
    "GLOBAL_ENDPOINT_ENV",
    "create_session",
    "create_session_may_retry",
    "parse_create_session_response",
    "resolve_endpoint",
]

log = logging.getLogger(__name__)

ENDPOINT_ENV = "AWS_ENDPOINT_URL_ROLESANYWHERE"
GLOBAL_ENDPOINT_ENV = "AWS_ENDPOINT_URL"


def _check_endpoint(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{source} must be an http(s) URL, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{source} must not contain credentials, a query or a fragment")
    return url.rstrip("/")


def resolve_endpoint(
    region: str,
    partition: str,
    endpoint_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return the Roles Anywhere base URL: argument, else AWS_ENDPOINT_URL_ROLESANYWHERE,
    else AWS_ENDPOINT_URL, else the partition's regional endpoint (its FIPS variant when
    AWS_USE_FIPS_ENDPOINT=true; an explicit endpoint is used as it is)."""
    env = os.environ if environ is None else environ
    if endpoint_url:
        return _check_endpoint(endpoint_url, "endpoint_url")
    for name in (ENDPOINT_ENV, GLOBAL_ENDPOINT_ENV):
        value = env.get(name, "").strip()
        if value:
            return _check_endpoint(value, name)
    return _regional_endpoint(region, partition, use_fips(env))


@lru_cache(maxsize=256)
def _regional_endpoint(region: str, partition: str, fips: bool) -> str:
    # Validated and formatted once per (region, partition, FIPS): issuance asks every time.
    return get_partition(partition).rolesanywhere_endpoint(region, fips=fips)


def _parse_expiration(value: object) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError("expiration is missing")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expiration {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"expiration {value!r} has no time zone")
    return parsed.astimezone(UTC)


def parse_create_session_response(body: bytes | str) -> Credentials:
    """Parse a CreateSession 2xx body into Credentials (first element of credentialSet)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AwsError("InvalidResponse", "CreateSession response is not JSON") from None
    try:
        entry = data["credentialSet"][0]
        creds = entry["credentials"]
        values = {key: creds[key] for key in ("accessKeyId", "secretAccessKey", "sessionToken")}
        if not all(isinstance(v, str) and v for v in values.values()):
            raise ValueError("a credential field is empty or not a string")
        expiration = _parse_expiration(creds.get("expiration"))
        assumed = entry.get("assumedRoleUser") or {}
        assumed_arn = assumed.get("arn") if isinstance(assumed, dict) else None
        source_identity = entry.get("sourceIdentity")
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        # The message names the problem, never a value: the body holds live secrets.
        detail = str(exc) if isinstance(exc, ValueError) else f"missing {exc}"
        raise AwsError(
            "InvalidResponse", f"CreateSession response has no usable credentials ({detail})"
        ) from None
    return Credentials(
        access_key_id=values["accessKeyId"],
        secret_access_key=values["secretAccessKey"],
        session_token=values["sessionToken"],
        expiration=expiration,
        assumed_role_arn=assumed_arn if isinstance(assumed_arn, str) else None,
        source_identity=source_identity if isinstance(source_identity, str) else None,
    )


def create_session_may_retry(error: TransientError) -> bool:
    """Whether a failed CreateSession is safe to send again: only when AWS cannot have made a
    session (throttled, a 5xx answer, a refused or timed-out connection). After a read timeout
    or a connection lost mid-call the session may exist, and a retry would make another."""
    return not isinstance(error, AnswerTimeoutError | ConnectionLostError)


def create_session(
    *,
    certificate: CertificateInput | None = None,
    private_key: PrivateKeyInput | None = None,
    trust_anchor_arn: str,
    profile_arn: str,
    role_arn: str,
    role_session_name: str | None = None,
    duration_seconds: int | None = None,
    chain: Iterable[CertificateInput] | bytes | str = (),
    endpoint_url: str | None = None,
    timeout: float = 10.0,
    max_attempts: int = 4,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    http: urllib3.PoolManager | None = None,
    budget: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    identity: SigningIdentity | None = None,
) -> Credentials:
    """Exchange an X.509 certificate for temporary credentials with Roles Anywhere CreateSession.

    Region and partition come from the trust anchor ARN. Access denied, validation and not
    found errors raise at once; throttling, 5xx and refused connections are retried
    (`max_attempts` in all) with capped, jittered backoff, each attempt freshly signed. A read
    timeout is never retried (`create_session_may_retry`). `budget` caps the whole call,
    retries and backoff included, in seconds: each attempt's timeout shrinks to what is left.

    Sign with `certificate`, `private_key` and `chain` (checked to belong together), or with
    an `identity` whose key was generated with its leaf (see SigningIdentity), not both.
    """
    if identity is not None and (certificate is not None or private_key is not None or chain):
        raise TypeError("pass identity or certificate/private_key/chain, not both")
    trust_anchor = parse_trust_anchor_arn(trust_anchor_arn)
    base_url = resolve_endpoint(trust_anchor.region, trust_anchor.partition, endpoint_url, environ)
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if budget is not None and budget <= 0:
        raise ValueError("budget must be positive")
    deadline = clock() + budget if budget is not None else None
    prepared = prepare_create_session(
        trust_anchor_arn=trust_anchor_arn,
        profile_arn=profile_arn,
        role_arn=role_arn,
        endpoint_url=base_url,
        role_session_name=role_session_name,
        duration_seconds=duration_seconds,
    )
    if identity is None:
        if certificate is None or private_key is None:
            raise TypeError("create_session needs certificate and private_key, or identity")
        identity = SigningIdentity.from_certificate(
            load_certificate(certificate), load_private_key(private_key), load_certificates(chain)
        )
    signing_identity = identity

    def attempt() -> Credentials:
        attempt_timeout = timeout
        if deadline is not None:
            attempt_timeout = min(timeout, deadline - clock())
            if attempt_timeout <= 0.05:
                raise AwsTimeoutError("Timeout", "the time budget ran out before CreateSession")
        # Signed afresh per attempt (a new date), from the request prepared once above.
        request = prepared.sign_as(signing_identity)
        response = http_request(
            request.method,
            request.url,
            headers=request.headers,
            body=request.body,
            timeout=attempt_timeout,
            http=http,
        )
        if 200 <= response.status < 300:
            return parse_create_session_response(response.body)
        raise error_from_response(response.status, response.headers, response.body)

    credentials = call_with_retries(
        attempt,
        max_attempts=max_attempts,
        sleep=sleep,
        what="CreateSession",
        retry_if=create_session_may_retry,
        deadline=deadline,
        clock=clock,
    )
    log.info(
        "CreateSession succeeded for %s (expires %s)",
        credentials.assumed_role_arn or role_arn,
        credentials.expiration.isoformat(),
    )
    return credentials
