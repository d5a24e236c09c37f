"""Fault injection: throttling, injected 5xx, timeouts, truncated pages, latency, damaged
answers (a 200 whose body is cut, HTML, or missing what it must hold) and slow answers (the
request is handled, then the answer held back, as when AWS acted but the reply is late).

Rules match an operation by name (`ListProfiles`, `CreateSession`, `AssumeRole`), by
`service:Operation` (`iam:GetRole`), by Roles Anywhere resource family (`profiles`,
`trustanchors`, `crls`, `subjects`, `tags`, `sessions`), by service (`iam`, `sts`, `s3`,
`rolesanywhere`) or by `*`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

# Roles Anywhere quota families (per account per region); see the RA "Quotas" page.
CONTROL_PLANE_FAMILIES: dict[str, str] = {
    "CreateTrustAnchor": "trustanchors",
    "GetTrustAnchor": "trustanchors",
    "ListTrustAnchors": "trustanchors",
    "UpdateTrustAnchor": "trustanchors",
    "DeleteTrustAnchor": "trustanchors",
    "EnableTrustAnchor": "trustanchors",
    "DisableTrustAnchor": "trustanchors",
    "PutNotificationSettings": "trustanchors",
    "ResetNotificationSettings": "trustanchors",
    "CreateProfile": "profiles",
    "GetProfile": "profiles",
    "ListProfiles": "profiles",
    "UpdateProfile": "profiles",
    "DeleteProfile": "profiles",
    "EnableProfile": "profiles",
    "DisableProfile": "profiles",
    "PutAttributeMapping": "profiles",
    "DeleteAttributeMapping": "profiles",
    "GetSubject": "subjects",
    "ListSubjects": "subjects",
    "TagResource": "tags",
    "UntagResource": "tags",
    "ListTagsForResource": "tags",
    "ImportCrl": "crls",
    "GetCrl": "crls",
    "ListCrls": "crls",
    "UpdateCrl": "crls",
    "DeleteCrl": "crls",
    "EnableCrl": "crls",
    "DisableCrl": "crls",
    "CreateSession": "sessions",
}

# AWS's default quotas: 1 TPS per control-plane family, 10 TPS for CreateSession.
AWS_DEFAULT_RATES: dict[str, float] = {
    "trustanchors": 1.0,
    "profiles": 1.0,
    "subjects": 1.0,
    "tags": 1.0,
    "crls": 1.0,
    "sessions": 10.0,
}


@dataclass(frozen=True)
class Operation:
    """What a request is, for matching fault rules."""

    service: str
    name: str

    @property
    def family(self) -> str | None:
        """The Roles Anywhere quota family, if the operation belongs to one."""
        if self.service != "rolesanywhere":
            return None
        return CONTROL_PLANE_FAMILIES.get(self.name)

    def matches(self, target: str) -> bool:
        """Whether a rule written for `target` applies to this operation."""
        target_lower = target.lower()
        return target_lower in {
            "*",
            self.name.lower(),
            f"{self.service}:{self.name}".lower(),
            self.service.lower(),
            (self.family or "\0").lower(),
        }


@dataclass(frozen=True)
class Fault:
    """The fault to apply to one request (the HTTP layer turns it into a response)."""

    kind: str  # "throttle", "fail", "timeout" (and "damage", "slow" after handling)
    status: int = 500
    wait_seconds: float = 0.0
    mode: str = ""


@dataclass
class _Bucket:
    """A token bucket: `rate` tokens per second, burst of max(1, rate)."""

    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        capacity = max(1.0, self.rate)
        self.tokens = min(capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# How a 200 answer is damaged (see `Faults.damage`).
DAMAGE_MODES = ("cut", "html", "missing_key", "empty", "drop_next_token", "repeat_next_token")


@dataclass
class _CountedRule:
    target: str
    remaining: int
    status: int = 500
    seconds: float = 0.0
    mode: str = ""
    skip: int = 0


@dataclass
class _Config:
    throttles: dict[str, _Bucket] = field(default_factory=dict)
    failures: list[_CountedRule] = field(default_factory=list)
    timeouts: list[_CountedRule] = field(default_factory=list)
    page_limits: dict[str, int] = field(default_factory=dict)
    latencies: dict[str, float] = field(default_factory=dict)
    damages: list[_CountedRule] = field(default_factory=list)
    slow_answers: list[_CountedRule] = field(default_factory=list)
    # Set when this configuration is cleared, so parked requests return at once.
    release: threading.Event = field(default_factory=threading.Event)


class Faults:
    """The fault configuration of one sandbox; thread-safe, cleared by `clear()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = _Config()

    def throttle(self, target: str, rate_per_second: float) -> None:
        """Allow at most `rate_per_second` requests per second to `target`; 429 beyond."""
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        with self._lock:
            self._config.throttles[target] = _Bucket(
                rate=float(rate_per_second),
                tokens=max(1.0, float(rate_per_second)),
                updated=time.monotonic(),
            )

    def throttle_aws_defaults(self) -> None:
        """Apply AWS's default Roles Anywhere quotas (1 TPS per family, 10 TPS CreateSession)."""
        for family, rate in AWS_DEFAULT_RATES.items():
            self.throttle(family, rate)

    def fail(self, operation: str, status: int = 500, count: int = 1) -> None:
        """Answer the next `count` calls of `operation` with HTTP `status` (a 5xx)."""
        if not 500 <= status <= 599:
            raise ValueError("injected failures must be 5xx statuses")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._config.failures.append(_CountedRule(operation, count, status=status))

    def timeout(self, operation: str, count: int = 1, seconds: float = 30.0) -> None:
        """Hold the next `count` calls of `operation` for `seconds` (or until clear), then 504."""
        if count < 1 or seconds <= 0:
            raise ValueError("count and seconds must be positive")
        with self._lock:
            self._config.timeouts.append(_CountedRule(operation, count, seconds=seconds))

    def truncate_pages(self, operation: str = "*", page_size: int = 1) -> None:
        """Make list operations return at most `page_size` items per page, whatever was asked."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        with self._lock:
            self._config.page_limits[operation] = page_size

    def latency(self, seconds: float, operation: str = "*") -> None:
        """Delay every matching request by `seconds` before it is handled."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        with self._lock:
            self._config.latencies[operation] = float(seconds)

    def damage(self, operation: str, mode: str, count: int = 1, skip: int = 0) -> None:
        """Damage `count` successful answers of `operation` after `skip` good ones (status
        stays 200).

        `cut`: the JSON body cut in half; `html`: a proxy's HTML page; `missing_key`: a JSON
        object without the list the operation returns; `empty`: that list empty and no
        nextToken; `drop_next_token`: the page as it is, but without its nextToken;
        `repeat_next_token`: the page's nextToken replaced by the one of the request (a loop).
        """
        if mode not in DAMAGE_MODES:
            raise ValueError(f"mode must be one of {', '.join(DAMAGE_MODES)}")
        if count < 1 or skip < 0:
            raise ValueError("count must be at least 1 and skip not negative")
        with self._lock:
            self._config.damages.append(_CountedRule(operation, count, mode=mode, skip=skip))

    def slow_answer(self, operation: str, seconds: float, count: int = 1) -> None:
        """Handle the next `count` calls of `operation` at once, then hold the answer `seconds`
        (or until clear): the work is done though the caller may give up waiting."""
        if count < 1 or seconds <= 0:
            raise ValueError("count and seconds must be positive")
        with self._lock:
            self._config.slow_answers.append(_CountedRule(operation, count, seconds=seconds))

    def clear(self) -> None:
        """Remove every fault and release requests held by `timeout()`."""
        with self._lock:
            self._config.release.set()
            self._config = _Config()

    def describe(self) -> dict[str, Any]:
        """Return the current configuration as JSON-friendly data (for the admin endpoint)."""
        with self._lock:
            config = self._config
            return {
                "throttles": {t: b.rate for t, b in config.throttles.items()},
                "failures": [
                    {"operation": r.target, "status": r.status, "remaining": r.remaining}
                    for r in config.failures
                ],
                "timeouts": [
                    {"operation": r.target, "seconds": r.seconds, "remaining": r.remaining}
                    for r in config.timeouts
                ],
                "page_limits": dict(config.page_limits),
                "latencies": dict(config.latencies),
                "damages": [
                    {"operation": r.target, "mode": r.mode, "remaining": r.remaining}
                    for r in config.damages
                ],
                "slow_answers": [
                    {"operation": r.target, "seconds": r.seconds, "remaining": r.remaining}
                    for r in config.slow_answers
                ],
            }

    # -- used by the HTTP layer ------------------------------------------------------------

    def check(self, operation: Operation) -> Fault | None:
        """Decide whether this request is delayed, throttled, failed or held."""
        delay = 0.0
        with self._lock:
            config = self._config
            release = config.release
            for target, seconds in config.latencies.items():
                if operation.matches(target):
                    delay = max(delay, seconds)
            fault = self._take_counted(config.timeouts, operation, "timeout")
            if fault is None:
                fault = self._take_counted(config.failures, operation, "fail")
            if fault is None:
                now = time.monotonic()
                for target, bucket in config.throttles.items():
                    if operation.matches(target) and not bucket.take(now):
                        fault = Fault("throttle", status=429)
                        break
        if delay:
            release.wait(delay)
        if fault is not None and fault.kind == "timeout":
            release.wait(fault.wait_seconds)
        return fault

    def after(self, operation: Operation) -> tuple[str, float]:
        """After a request was handled: the damage mode ("" for none) and how long to hold
        the answer back (0 for not at all)."""
        with self._lock:
            config = self._config
            release = config.release
            damage = self._take_counted(config.damages, operation, "damage")
            slow = self._take_counted(config.slow_answers, operation, "slow")
        wait = slow.wait_seconds if slow is not None else 0.0
        if wait:
            release.wait(wait)
        return (damage.mode if damage is not None else ""), wait

    def page_limit(self, operation: Operation) -> int | None:
        """The forced page size for a list operation, if truncation is on."""
        with self._lock:
            limits = [n for t, n in self._config.page_limits.items() if operation.matches(t)]
        return min(limits) if limits else None

    @staticmethod
    def _take_counted(rules: list[_CountedRule], operation: Operation, kind: str) -> Fault | None:
        for rule in rules:
            if rule.remaining > 0 and operation.matches(rule.target):
                if rule.skip > 0:
                    rule.skip -= 1
                    return None
                rule.remaining -= 1
                if rule.remaining == 0:
                    rules.remove(rule)
                status = 504 if kind == "timeout" else rule.status
                return Fault(kind, status=status, wait_seconds=rule.seconds, mode=rule.mode)
        return None
