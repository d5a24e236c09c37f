"""Prometheus metrics: what is counted, where, and the `/metrics` page.

Counters and histograms live in the process that does the work (a gunicorn worker issuing
credentials, a Celery child running a sync). Under `rolegate-server web|worker` every process
writes its samples to `PROMETHEUS_MULTIPROC_DIR` and a scrape adds them up; without that variable
(tests, runserver) the process's own registry is used. Gauges that describe stored state (apps
per integration, CA expiry, pending requests) are read from the database at scrape time by the
web process, so they are right whichever process changed the rows.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

ISSUANCES = Counter(
    "rolegate_credential_issuances",
    "Credential issuances by outcome (issued, denied, not_found, error, audit_unavailable) "
    "and purpose (cli, console, api, ...).",
    ["outcome", "purpose"],
)
ISSUANCE_SECONDS = Histogram(
    "rolegate_credential_issuance_duration_seconds",
    "Time to issue credentials (certificate, audit, CreateSession), by outcome.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
CREATE_SESSION_ERRORS = Counter(
    "rolegate_create_session_errors",
    "Issuances CreateSession failed, by AWS error code (ThrottlingException is throttling).",
    ["code"],
)
SYNC_RUNS = Counter("rolegate_sync_runs", "Profile sync task runs by final status.", ["status"])
SYNC_SECONDS = Histogram(
    "rolegate_sync_duration_seconds",
    "Profile sync task duration, by final status.",
    ["status"],
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0),
)
AUDIT_WRITE_FAILURES = Counter(
    "rolegate_audit_write_failures",
    "Audit rows that could not be written (the action they recorded failed with them).",
)
LOGIN_FAILURES = Counter(
    "rolegate_login_failures", "Refused sign-ins by reason (committed audit rows).", ["reason"]
)
LOGIN_THROTTLES = Counter(
    "rolegate_login_throttles", "Sign-ins refused because the login throttle was engaged."
)


def observe_sync(status: str, seconds: float) -> None:
    """Count one finished sync task."""
    SYNC_RUNS.labels(status=status[:32]).inc()
    SYNC_SECONDS.labels(status=status[:32]).observe(seconds)


def observe_audit_event(event_type: str, outcome: str, details: dict[str, Any]) -> None:
    """Count committed sign-in refusals and throttles (called after the audit row commits)."""
    if event_type not in ("user.signed_in", "user.login") or outcome != "denied":
        return
    reason = str(details.get("reason", "unknown"))[:32]
    LOGIN_FAILURES.labels(reason=reason).inc()
    if reason == "throttled":
        LOGIN_THROTTLES.inc()


# Readers of stored-state gauges, registered by the app that owns the rows (in its ready()), so
# the kernel reads no app's models.
StoredGauges = Callable[[], Iterable[GaugeMetricFamily]]
stored_state_gauges: list[StoredGauges] = []


def register_stored_state_gauges(reader: StoredGauges) -> None:
    """Add a reader of database-backed gauges to every `/metrics` scrape of the web process."""
    if reader not in stored_state_gauges:
        stored_state_gauges.append(reader)


class StoredStateCollector(Collector):
    """Gauges read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for reader in stored_state_gauges:
            yield from reader()


def token_matches(header: str, token: str) -> bool:
    """True when the Authorization header is `Bearer <token>` (constant-time compare)."""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def render(*, include_stored_state: bool) -> tuple[bytes, str]:
    """The exposition text of every process's samples, plus the stored-state gauges."""
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    body = generate_latest(registry)
    if include_stored_state:
        stored = CollectorRegistry()
        stored.register(StoredStateCollector())
        body += generate_latest(stored)
    return body, CONTENT_TYPE_LATEST


# Every interface by default: Prometheus scrapes the pod from elsewhere (the token guards it).
def serve_worker_metrics(port: int, token: str, host: str = "0.0.0.0") -> None:  # noqa: S104 # nosec B104
    """Serve `/metrics` from a Celery worker's main process (its children's samples added up)."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not token_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"a bearer token is required\n"]
        body, content_type = render(include_stored_state=False)
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    server = make_server(host, port, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="rolegate-metrics", daemon=True)
    thread.start()
    log.info("worker metrics on http://%s:%d/metrics", host, server.server_port)
