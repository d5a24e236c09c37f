"""Fixed-window rate limits shared by every process through the cache (Redis in production).

A hit is one atomic ``INCR`` on a key per (scope, subject, window), so web workers, API workers
and hosts all count together. When the cache is unreachable a limit either counts from a
fallback the caller gives (the audit log, say) or, without one, lets the request through and
logs it: a Redis outage must not stop sign-ins or issuance for everyone.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from redis.exceptions import RedisError

from apps.core.errors import DomainError

log = logging.getLogger(__name__)

_CACHE_ERRORS = (RedisError, OSError)


class RateLimited(DomainError):
    """Refused by a rate limit; answered with 429 and ``Retry-After: retry_after``."""

    code = "rate_limited"
    status = 429
    retryable = True

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """``Retry-After`` on every surface."""
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one hit: refused or not, when to retry, and the count in the window."""

    count: int
    limit: int
    retry_after: int

    @property
    def refused(self) -> bool:
        """True when this hit is over the limit."""
        return self.limit > 0 and self.count > self.limit

    @property
    def first_refusal(self) -> bool:
        """True for the first refused hit of the window (audit it once, not a flood)."""
        return self.limit > 0 and self.count == self.limit + 1


def rate_limit_hit(
    scope: str,
    subject: str,
    *,
    limit: int,
    window: int = 60,
    fallback: Callable[[], int] | None = None,
) -> RateDecision:
    """Count one hit of ``subject`` (a user id, an address) against ``limit`` per ``window``."""
    now = time.time()
    retry_after = max(1, int(window - (now % window)))
    if limit <= 0:
        return RateDecision(count=0, limit=0, retry_after=0)
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    key = f"rolegate:rate:{scope}:{digest}:{int(now // window)}"
    try:
        cache.add(key, 0, window + 5)
        try:
            count = int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window + 5)
            count = 1
    except _CACHE_ERRORS:
        if fallback is None:
            log.warning("rate limit %s: cache unreachable, not enforced for this request", scope)
            return RateDecision(count=0, limit=limit, retry_after=0)
        log.warning("rate limit %s: cache unreachable, counting from the fallback", scope)
        count = fallback() + 1
        retry_after = window
    return RateDecision(count=count, limit=limit, retry_after=retry_after)
