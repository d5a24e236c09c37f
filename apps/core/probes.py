"""Liveness (`/healthz`), readiness (`/readyz`) and the Prometheus page (`/metrics`).

Load balancers and kubelets call these with a pod IP as the Host, over plain HTTP and without a
session, so `ProbeMiddleware` (first in MIDDLEWARE) answers them before host validation, the TLS
redirect and the session machinery: host checking stays as strict as before for every other path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core import metrics
from apps.core.policies import anonymous_allowed

log = logging.getLogger(__name__)

_migrations_applied = False  # once true for this process it stays true (a deploy restarts it)


def _short(error: BaseException) -> str:
    """One line naming the failure, never a URL (it could hold a password)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{error.__class__.__name__}: {text}"[:300]


def check_database() -> None:
    """The default database answers a query."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_migrations() -> None:
    """Every migration the code knows about is applied."""
    global _migrations_applied
    if _migrations_applied:
        return
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migration(s) not applied: run rolegate-server migrate")
    _migrations_applied = True


def check_cache() -> None:
    """The cache (Redis in production) stores and returns a value."""
    from django.core.cache import cache

    cache.set("rolegate:readyz", "1", 30)
    if cache.get("rolegate:readyz") != "1":
        raise RuntimeError("the cache did not return what was stored")


def check_broker() -> None:
    """The Celery broker accepts a connection."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return
    if url.startswith("filesystem://"):
        return  # the demo's broker is a local directory, checked at start-up
    from kombu import Connection

    with Connection(url, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
}


@anonymous_allowed
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. It touches nothing else, so a database outage never
    makes an orchestrator restart healthy web processes."""
    return JsonResponse({"status": "ok"})


@anonymous_allowed
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: database, migrations, cache and broker; 503 naming what failed."""
    results: dict[str, dict[str, object]] = {}
    failed: list[str] = []
    for name, check in CHECKS.items():
        if name == "migrations" and "database" in failed:
            results[name] = {"ok": False, "error": "skipped: the database is unreachable"}
            failed.append(name)
            continue
        try:
            check()
        except Exception as error:
            results[name] = {"ok": False, "error": _short(error)}
            failed.append(name)
        else:
            results[name] = {"ok": True}
    if failed:
        log.warning("not ready: %s", ", ".join(failed))
    return JsonResponse(
        {"status": "not ready" if failed else "ready", "checks": results, "failed": failed},
        status=503 if failed else 200,
    )


@anonymous_allowed  # not a session login: a bearer token from ROLEGATE_METRICS_TOKEN, below
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; 404 when no token is configured, 401 without the right one."""
    token = str(getattr(settings, "ROLEGATE_METRICS_TOKEN", "") or "")
    if not token:
        return HttpResponse(
            "Metrics are off: set ROLEGATE_METRICS_TOKEN.\n", status=404, content_type="text/plain"
        )
    if not metrics.token_matches(request.headers.get("Authorization", ""), token):
        response = HttpResponse(
            "A bearer token is required (Authorization: Bearer $ROLEGATE_METRICS_TOKEN).\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body, content_type = metrics.render(include_stored_state=True)
    except Exception:
        # The database gauges failed: still serve the process counters.
        log.exception("metrics: the stored-state gauges could not be read")
        body, content_type = metrics.render(include_stored_state=False)
    return HttpResponse(body, content_type=content_type)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics_view,
}


class ProbeMiddleware:
    """Answer the probe paths for any Host header, before the rest of the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        response = probe(request)
        response["Cache-Control"] = "no-store"
        return response
