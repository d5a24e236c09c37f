"""The one HTTP client awsra uses for AWS: a pooled urllib3 manager, typed errors, and retries
of transient failures with capped, jittered exponential backoff."""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import urllib3

from awsra import egress
from awsra.errors import (
    AnswerTimeoutError,
    AwsError,
    AwsTimeoutError,
    ConnectionLostError,
    ServerError,
    TransientError,
)

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "HttpResponse",
    "backoff_delay",
    "call_with_retries",
    "http_request",
    "pool_manager",
]

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0
_T = TypeVar("_T")

_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def pool_manager() -> urllib3.PoolManager:
    """Return the shared connection pool (TLS 1.2+, certificate verification on, no retries)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = urllib3.PoolManager(
                    num_pools=16,
                    maxsize=8,
                    retries=False,
                    ssl_minimum_version=ssl.TLSVersion.TLSv1_2,
                )
    return _pool


@dataclass(frozen=True)
class HttpResponse:
    """A received HTTP response (status, headers with their original names, body)."""

    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        """Return a header value by case-insensitive name."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
    http: urllib3.PoolManager | None = None,
) -> HttpResponse:
    """Send one request; network failures become TransientError subclasses (or AwsError)."""
    # The pool follows the SDKs' egress settings (proxy, CA bundle): see awsra/egress.py.
    manager = http if http is not None else egress.pool_for(url)
    try:
        response = manager.request(
            method,
            url,
            headers=dict(headers or {}),
            body=body,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,
            redirect=False,
            preload_content=True,
        )
    except urllib3.exceptions.NewConnectionError as exc:
        raise ServerError("ConnectionError", f"cannot connect: {exc.__class__.__name__}") from exc
    except urllib3.exceptions.ConnectTimeoutError as exc:
        # Nothing was sent: the service cannot have acted.
        raise AwsTimeoutError("Timeout", f"could not connect within {timeout:g}s") from exc
    except urllib3.exceptions.TimeoutError as exc:
        raise AnswerTimeoutError("Timeout", f"no answer within {timeout:g}s") from exc
    except urllib3.exceptions.SSLError as exc:
        # A TLS failure (bad certificate, old protocol) will not fix itself on retry.
        raise AwsError("TLSError", str(exc)) from exc
    except urllib3.exceptions.LocationValueError as exc:
        raise AwsError("InvalidEndpoint", str(exc)) from exc
    except urllib3.exceptions.ProxyError as exc:
        # The proxy refused or could not reach AWS: say so, since the endpoint itself may be fine.
        raise ServerError(
            "ProxyError", f"the HTTPS proxy failed: {exc.__class__.__name__}"
        ) from exc
    except urllib3.exceptions.ProtocolError as exc:
        # Reset or closed after the request went out (urllib3 reports a refused connection
        # as NewConnectionError, above): the service may have acted.
        raise ConnectionLostError("ConnectionError", f"{exc.__class__.__name__}: {exc}") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise ServerError("ConnectionError", f"{exc.__class__.__name__}: {exc}") from exc
    return HttpResponse(status=response.status, headers=dict(response.headers), body=response.data)


def backoff_delay(attempt: int, *, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff for retry number `attempt` (1-based), capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2.0 ** (attempt - 1)))
    return ceiling * rng()


def call_with_retries(
    operation: Callable[[], _T],
    *,
    max_attempts: int,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "AWS call",
    retry_if: Callable[[TransientError], bool] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """Run `operation`, retrying only TransientError up to `max_attempts` times in all.

    `retry_if` narrows which transient errors are retried (for calls that are not safe to
    repeat); `deadline` (a `clock()` value) stops retrying when the backoff would pass it.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    attempt = 1
    while True:
        try:
            return operation()
        except TransientError as exc:
            if attempt >= max_attempts or (retry_if is not None and not retry_if(exc)):
                raise
            delay = backoff_delay(attempt)
            if deadline is not None and clock() + delay >= deadline:
                raise
            log.warning(
                "%s failed with %s (attempt %d of %d); retrying in %.2fs",
                what,
                exc.code,
                attempt,
                max_attempts,
                delay,
            )
            sleep(delay)
            attempt += 1
