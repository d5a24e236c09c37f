"""Growth curves of the Resources page and GET /api/v1/apps, and issuance server time and queries.

Run: DATABASE_URL=postgres://... .venv/bin/python bench/bench_scale.py
    [--sizes 1000,10000,30000,100000] [--requests 15] [--issues 20] [--label after] [--no-record]

Measured through Django's test client (middleware, view, template or JSON; no network), in one
process, against a throw-away PostgreSQL database:

- For each catalog size (apps added to the same catalog, 100 teams): the Resources page for a
  user holding 50 roles (about half the apps visible), warm p50 and the first request after a
  cache dropped ("cold", a process start), and the first request after one app changed (its
  team label flipped, so it enters or leaves the user's set: what a sync does); `GET
  /api/v1/apps?limit=500` warm p50 and right after one app changed (the first page; a server from
  before pagination answers the whole list); each as a ratio to the anchor, `GET /api/v1/me`
  with the same token, measured in the same round (a fixed-cost request through the same
  middleware, authentication and JSON stack). Statement counts per request.
- Launch POST and `POST /api/v1/apps/NAME/credentials` against the in-process sandbox: the time
  until the response is ready to send, the time inside awsra's HTTP calls to the sandbox, and
  Rolegate's server time (the difference), with the SQL statements per request (BEGIN/COMMIT not
  counted). A WSGI server writes the response at that point and closes it afterwards; what
  Rolegate does on close (the audit chain's seal of the request's events, `request_finished`)
  is reported in its own column, "after the response": the worker's time, not the client's.

Runs against whatever code is on sys.path first, so the same script measures an older
checkout (`--label before`). Records "## scale: <label>" in bench/RESULTS.md with the
1-minute load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(
    0, os.environ.get("ROLEGATE_BENCH_SOURCE", str(Path(__file__).resolve().parents[1]))
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ROLEGATE_ENV", "test")

import django

django.setup()

# The organization bench_resources.py and the load test measure (bench/ is this script's folder,
# so an older checkout measured through ROLEGATE_BENCH_SOURCE gets the same catalog).
import catalog  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from ready_client import ReadyClient  # noqa: E402

import awsra.client  # noqa: E402
import awsra.federation  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ACCOUNT = catalog.ACCOUNT
ROLES = 50
HTTP_FUNCTION = "http_request"


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    """Milliseconds per call, after one warm-up call."""
    call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def timed_after_change(
    change: Callable[[], Any], call: Callable[[], Any], repeat: int
) -> list[float]:
    """Milliseconds of `call` right after `change` (not timed), after one warm-up pair."""
    change()
    call()
    samples = []
    for _ in range(repeat):
        change()
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _counted(queries: list[dict[str, Any]]) -> int:
    return len([q for q in queries if q["sql"] not in ("BEGIN", "COMMIT")])


def statements(call: Callable[[], Any], client: ReadyClient | None = None) -> int | str:
    """SQL statements of one call; with `client`, "before + after the response"."""
    with CaptureQueriesContext(connection) as captured:
        call()
    if client is None:
        return _counted(captured.captured_queries)
    cut = client.handler.statements_ready - captured.initial_queries
    before = _counted(captured.captured_queries[:cut])
    return f"{before} + {_counted(captured.captured_queries[cut:])}"


def make_user() -> Any:
    from apps.accounts.models import User

    return User.objects.create_user(
        username="bench-user", password=None, roles=catalog.team_roles(ROLES)
    )


def bench_sizes(sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    from apps.api.services import token_create
    from apps.resources.queries import app_catalog_forget

    integration = catalog.bench_integration()
    user = make_user()
    web = Client()
    web.force_login(user)
    token = token_create(actor=user, user=user, method="password", client_name="bench").plaintext
    api = Client(headers={"Authorization": f"Bearer {token}"})
    api.get("/api/v1/me")
    rows = []
    have = 0
    for size in sizes:
        catalog.add_apps(integration, have, size)
        have = size
        web.get("/")

        def page() -> None:
            assert web.get("/").status_code == 200

        def listing() -> None:
            assert api.get("/api/v1/apps", {"limit": 500}).status_code == 200

        def anchor() -> None:
            assert api.get("/api/v1/me").status_code == 200

        def cold() -> None:
            app_catalog_forget()
            page()

        flips = [0]

        def change_one_app(flips: list[int] = flips, size: int = size) -> None:
            # One app changes team: it enters or leaves the user's reachable set (team-0 is
            # one of the user's 50 teams, team-99 is not), as a sync relabelling a profile does.
            from apps.resources.models import AwsApp

            n = (flips[0] * 7919) % size
            flips[0] += 1
            app = AwsApp.objects.only("labels").get(name=f"app-{n:06d}-bench")
            team = "team-99" if app.labels.get("aws/team") != "team-99" else "team-0"
            AwsApp.objects.filter(pk=app.pk).update(labels={**app.labels, "aws/team": team})

        listing()
        change_one_app()
        changed_queries = statements(page)
        body = api.get("/api/v1/apps", {"limit": 500})
        row: dict[str, Any] = {
            "size": size,
            "page_queries": statements(page),
            "listing_queries": statements(listing),
            "listing_bytes": len(body.content),
            "anchor": p50(timed(anchor, repeat)),
            "page": p50(timed(page, repeat)),
            "cold": p50(timed(cold, max(3, repeat // 3))),
            "changed_page": p50(timed_after_change(change_one_app, page, repeat)),
            "changed_listing": p50(timed_after_change(change_one_app, listing, repeat)),
            "changed_queries": changed_queries,
            "listing": p50(timed(listing, max(3, repeat if size <= 30000 else repeat // 3))),
        }
        row["anchor_after"] = p50(timed(anchor, repeat))
        rows.append(row)
        print(row, flush=True)
    return rows


class _Settings:
    def __setattr__(self, name: str, value: Any) -> None:
        setattr(settings, name, value)


def bench_issuance(issues: int) -> dict[str, Any]:
    from apps.api.services import token_create
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

        for module, original in originals.items():
            setattr(module, HTTP_FUNCTION, counted(original))
        web = ReadyClient()
        web.force_login(scenario.alice)
        web.get("/")
        issued = token_create(
            actor=scenario.alice, user=scenario.alice, method="password", client_name="bench"
        )
        api = ReadyClient(headers={"Authorization": f"Bearer {issued.plaintext}"})
        api.get("/api/v1/me")
        launch_url = f"/apps/{scenario.app.name}/launch"
        credentials_url = f"/api/v1/apps/{scenario.app.name}/credentials"

        def launch() -> None:
            response = web.post(launch_url, {"role": scenario.role_arn})
            assert response.status_code == 302, response.content[:300]

        def credentials() -> None:
            response = api.post(
                credentials_url, {"role_arn": scenario.role_arn}, content_type="application/json"
            )
            assert response.status_code == 200, response.content[:300]

        out: dict[str, Any] = {}
        for name, call, client in (("launch", launch, web), ("api", credentials, api)):
            call()
            out[f"{name}_queries"] = statements(call, client)
            totals, servers, aws, after, anchors = [], [], [], [], []
            for _ in range(issues):
                # The anchor, interleaved: the same token's GET /api/v1/me (fixed-cost request
                # through the same middleware and authentication), until its response is ready.
                start = time.perf_counter()
                assert api.get("/api/v1/me").status_code == 200
                anchors.append((api.handler.ready - start) * 1000)
                aws_time[0] = 0.0
                start = time.perf_counter()
                call()
                end = time.perf_counter()
                total = client.handler.ready - start
                totals.append(total * 1000)
                aws.append(aws_time[0] * 1000)
                servers.append((total - aws_time[0]) * 1000)
                after.append((end - client.handler.ready) * 1000)
            out[name] = {
                "total": p50(totals),
                "aws": p50(aws),
                "server": p50(servers),
                "after": p50(after),
                "anchor": p50(anchors),
            }
        for module, original in originals.items():
            setattr(module, HTTP_FUNCTION, original)
        return out
    finally:
        sandbox.stop()


def table(rows: list[dict[str, Any]], issuance: dict[str, Any]) -> str:
    lines = [
        "| apps | anchor `GET /api/v1/me` p50 | Resources page warm p50 | ÷ anchor | page cold "
        "(cache dropped) | **page, first request after one app changed** | ÷ anchor "
        "| `GET /api/v1/apps?limit=500` p50 | ÷ anchor | listing, first request after one app "
        "changed | listing bytes | statements page / after a change / listing |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        anchor = (row["anchor"] + row["anchor_after"]) / 2
        lines.append(
            f"| {row['size']:,} | {anchor:.1f} ms | {row['page']:.1f} ms | "
            f"{row['page'] / anchor:.1f}x | {row['cold']:.0f} ms | "
            f"{row['changed_page']:.1f} ms | {row['changed_page'] / anchor:.1f}x | "
            f"{row['listing']:.1f} ms | {row['listing'] / anchor:.1f}x | "
            f"{row['changed_listing']:.1f} ms | {row['listing_bytes']:,} | "
            f"{row['page_queries']} / {row['changed_queries']} / {row['listing_queries']} |"
        )
    lines += [
        "",
        "| issuance | until the response is ready, p50 | inside the sandbox calls "
        "| **Rolegate server time p50** | anchor `GET /api/v1/me` p50 (interleaved) | ÷ anchor "
        "| after the response (audit seal), p50 | SQL statements before + after the response |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("launch", "Launch POST"), ("api", "`POST /api/v1/apps/NAME/credentials`")):
        figures = issuance[name]
        lines.append(
            f"| {label} | {figures['total']:.1f} ms | {figures['aws']:.1f} ms | "
            f"{figures['server']:.1f} ms | {figures['anchor']:.1f} ms | "
            f"{figures['server'] / figures['anchor']:.1f}x | {figures['after']:.1f} ms "
            f"| {issuance[name + '_queries']} |"
        )
    return "\n".join(lines)


def record(heading: str, text: str) -> None:
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = existing.splitlines()
    if heading not in lines:
        RESULTS.write_text(existing.rstrip("\n") + f"\n\n{heading}\n\n{text}\n")
        return
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = [*lines[:start], heading, "", *text.splitlines(), "", *lines[end:]]
    RESULTS.write_text("\n".join(new).rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,30000,100000")
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--issues", type=int, default=20)
    parser.add_argument("--label", default="after")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    settings.ROLEGATE_CA_ENCRYPTION_KEY = "bench-only-key-encryption-key-0123456789abcdef"
    settings.ALLOWED_HOSTS = ["testserver"]
    # One user issues back to back here; the per-user limit (60 a minute) is not what is measured.
    settings.ROLEGATE_ISSUANCE_RATE_LIMIT = 1_000_000  # still counted, as in production
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    label = args.label.replace("-", "_")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_scale_{label}_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    started = time.time()
    load_before = os.getloadavg()[0]
    try:
        issuance = bench_issuance(args.issues)
        rows = bench_sizes(sizes, args.requests)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    output = table(rows, issuance)
    print(output)
    load = os.getloadavg()[0]
    database = os.environ.get("DATABASE_URL", "").rsplit("/", 1)[-1]
    if not args.no_record:
        stamp = datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M UTC")
        record(
            f"## scale: {args.label}",
            f"Run {stamp} with `DATABASE_URL=postgres://postgres@127.0.0.1:5432/{database} "
            f".venv/bin/python bench/bench_scale.py --sizes {args.sizes} --requests "
            f"{args.requests} --issues {args.issues} --label {shlex.quote(args.label)}` (Python "
            f"{platform.python_version()}, {platform.machine()}, PostgreSQL on the same shared "
            f"2-core machine, 1-minute load average {load_before:.1f} before and {load:.1f} at "
            "the end; absolute times move with the machine's load, the ratios to the anchor "
            "are the figures). The user holds 50 roles over 100 teams with a deny on stage "
            "apps (about a third of the apps visible).\n\n"
            f"{output}",
        )


if __name__ == "__main__":
    main()
