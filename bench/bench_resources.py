"""Resources page and console launch server time.

Run: DATABASE_URL=postgres://... .venv/bin/python bench/bench_resources.py [--apps 10000]
    [--roles 50] [--requests 40] [--launches 30] [--no-record]

- Resources page: a user with 50 roles over 10,000 synced apps (each role allows the apps of one
  team; 100 teams, so the user sees half the apps). Server time of full GETs of `/`, of htmx
  search fragments and of a deep page, through Django's test client (no network), p50/p95.
- Launch: POST /apps/<name>/launch against the in-process sandbox (CreateSession and
  getSigninToken over local HTTP). The time spent inside those two HTTP calls is measured
  around awsra's one HTTP function and subtracted, leaving Rolegate's own server time (RBAC,
  leaf certificate, audit event, signing, URL building).
Prints a table and records it under "## resources and launch" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ROLEGATE_ENV", "test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

import awsra.client  # noqa: E402
import awsra.federation  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ready_client import ReadyClient  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## resources and launch"
HTTP_FUNCTION = "http_request"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index]


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    """Milliseconds per call, after two warm-up calls."""
    for _ in range(2):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def build_catalog(app_count: int, role_count: int) -> Any:
    """One integration, `app_count` apps over 100 teams, a user holding `role_count` roles
    (the same organization as the load test's, from bench/catalog.py)."""
    from apps.accounts.models import User
    from bench import catalog

    catalog.add_apps(catalog.bench_integration(), 0, app_count, batch_size=2000)
    names = catalog.team_roles(role_count)
    return User.objects.create_user(username="bench-user", password=None, roles=names)


def bench_page(app_count: int, role_count: int, repeat: int) -> dict[str, Any]:
    """Server time of the Resources page for the 50-role user over the catalog."""
    from apps.resources.queries import app_catalog_forget

    user = build_catalog(app_count, role_count)
    client = Client()
    client.force_login(user)
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200, response.status_code
    visible = response.content.decode().count("<strong>app-")
    results: dict[str, Any] = {"queries": len(queries.captured_queries), "rows_on_page": visible}
    results["full"] = timed(lambda: client.get("/"), repeat)

    def cold() -> None:
        app_catalog_forget()
        client.get("/")

    results["cold"] = timed(cold, max(5, repeat // 4))
    results["search"] = timed(
        lambda: client.get("/", {"q": "team-7 prod"}, HTTP_HX_REQUEST="true"), repeat
    )
    results["label"] = timed(
        lambda: client.get("/", {"label": "aws/env=dev", "page": "50"}, HTTP_HX_REQUEST="true"),
        repeat,
    )
    return results


class _Settings:
    """Attribute writes go to django.conf.settings (what the fixture's `settings` does)."""

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(settings, name, value)


def bench_launch(launches: int) -> dict[str, Any]:
    """Launch server time with the sandbox's own time (the HTTP calls to it) subtracted."""
    from sandbox.server import Sandbox
    from tests.resources.conftest import build_launch_scenario

    sandbox = Sandbox(host="127.0.0.1", port=0)
    sandbox.start()
    try:
        sandbox.reset()
        scenario = build_launch_scenario(
            sandbox, setenv=lambda k, v: os.environ.__setitem__(k, v), settings=_Settings()
        )
        aws_time = [0.0]
        # awsra's one HTTP function, as imported by the CreateSession client and federation.
        modules = (awsra.client, awsra.federation)
        originals = {module: module.__dict__[HTTP_FUNCTION] for module in modules}

        def counted(call: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return call(*args, **kwargs)
                finally:
                    aws_time[0] += time.perf_counter() - start

            return wrapper

        # Timing only: every call still goes over HTTP to the sandbox.
        for module, original in originals.items():
            setattr(module, HTTP_FUNCTION, counted(original))
        client = ReadyClient()
        client.force_login(scenario.alice)
        url = f"/apps/{scenario.app.name}/launch"
        totals, servers, sandboxes = [], [], []
        for index in range(launches + 2):
            aws_time[0] = 0.0
            start = time.perf_counter()
            response = client.post(url, {"role": scenario.role_arn})
            # Until the response was ready to send; the audit seal runs after it (on close).
            total = client.handler.ready - start
            assert response.status_code == 302, response.content[:500]
            if index >= 2:  # warm-up
                totals.append(total * 1000)
                sandboxes.append(aws_time[0] * 1000)
                servers.append((total - aws_time[0]) * 1000)
        for module, original in originals.items():
            setattr(module, HTTP_FUNCTION, original)
        return {"total": totals, "server": servers, "sandbox": sandboxes}
    finally:
        sandbox.stop()


def table(page: dict[str, Any], launch: dict[str, Any], app_count: int, role_count: int) -> str:
    def row(label: str, samples: list[float]) -> str:
        return (
            f"| {label} | {statistics.median(samples):.1f} ms | {percentile(samples, 0.95):.1f} ms "
            f"| {len(samples)} |"
        )

    return "\n".join(
        [
            "| measurement | p50 | p95 | samples |",
            "|---|---:|---:|---:|",
            row(
                f"Resources page `/`, full HTML ({app_count:,} apps, {role_count} roles)",
                page["full"],
            ),
            row("same, catalog cache cold (first request after a sync change)", page["cold"]),
            row("htmx search fragment (`q=team-7 prod`)", page["search"]),
            row("htmx label filter + page 50 (`label=aws/env=dev`)", page["label"]),
            row("Launch POST, until the response is ready (includes the sandbox)", launch["total"]),
            row("Launch POST, time inside the 2 HTTP calls to the sandbox", launch["sandbox"]),
            row("**Launch POST, Rolegate server time** (total minus sandbox)", launch["server"]),
            "",
            f"Queries per Resources page request: {page['queries']} (constant; see "
            f"`test_query_count_does_not_grow_with_apps`). Rows on page 1: {page['rows_on_page']}.",
        ]
    )


def record(text: str) -> None:
    """Replace this section's body with `text`, keeping other sections."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = existing.splitlines()
    if HEADING not in lines:
        RESULTS.write_text(existing.rstrip("\n") + f"\n\n{HEADING}\n\n{text}\n")
        return
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = [*lines[:start], HEADING, "", *text.splitlines(), "", *lines[end:]]
    RESULTS.write_text("\n".join(new).rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--apps", type=int, default=10000)
    parser.add_argument("--roles", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--launches", type=int, default=30)
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    settings.ROLEGATE_CA_ENCRYPTION_KEY = "bench-only-key-encryption-key-0123456789abcdef"
    settings.ALLOWED_HOSTS = ["testserver"]
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_resources_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        page = bench_page(args.apps, args.roles, args.requests)
        launch = bench_launch(args.launches)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    output = table(page, launch, args.apps, args.roles)
    print(output)
    if not args.no_record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        record(
            f"Run {stamp} with `DATABASE_URL=postgres://postgres@127.0.0.1:5432/rg_launch "
            f".venv/bin/python bench/bench_resources.py --apps {args.apps} --roles {args.roles} "
            f"--requests {args.requests} --launches {args.launches}` (Python "
            f"{platform.python_version()}, {platform.machine()}, {connection.vendor} on the same "
            f"shared 2-core machine, 1-minute load average {os.getloadavg()[0]:.1f} at the end). "
            "Server time through Django's test client (middleware, view, template; no network). "
            "The user holds 50 roles, each allowing one team's apps (100 teams) with a deny rule "
            "on stage apps, so about half of the 10,000 apps are listed; every request runs the "
            "access engine over all apps, then search, sort and pagination in Python.\n\n"
            f"{output}\n\n"
            "The warm page reuses the parsed app catalog (checked by one aggregate query per "
            "request); the cold row is the first request after any app changed. The launch's "
            "server time covers RBAC, the leaf certificate, the audit event, request signing "
            "and URL building."
        )
        print(f"\nrecorded in {RESULTS.relative_to(RESULTS.parents[1])}")


if __name__ == "__main__":
    main()
