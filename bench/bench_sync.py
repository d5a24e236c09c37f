"""Profile-sync wall time against its floors, through the sandbox over HTTP.

Run: ROLEGATE_ENV=test DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/N \
     .venv/bin/python bench/bench_sync.py [--integrations 50] [--profiles 250] [--no-record]

(a) N integrations x P profiles (each integration in its own region, as AWS's 250-profile quota
    is per account and region), 20 ms sandbox latency on every call, no throttling, client pacing
    off: the beat task fans out to a real `celery worker --concurrency 4` on Redis. Reports the
    wall time against the floor (AWS calls / 4 workers x 20 ms) and the database queries of one
    run (first sync and no-change resync), measured in-process.
(b) 1 integration x P profiles with the sandbox throttling every Roles Anywhere family at
    10 requests/s: the sync paced at ROLEGATE_PROFILE_SYNC_RATE=10 against the quota floor
    (the busiest family's calls / 10 per second), and the same sync with pacing off (adaptive
    retries only) for comparison.
Records the result under "## profile sync" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ROLEGATE_ENV", "test")
os.environ.setdefault(
    "ROLEGATE_CA_ENCRYPTION_KEY", "bench-only-key-encryption-key-0123456789abcdef"
)
os.environ["ROLEGATE_CA_ENCRYPTION_KEY_FILE"] = ""

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from kombu import Connection  # noqa: E402

from apps.integrations.models import Integration, SyncRun  # noqa: E402
from apps.integrations.services import integration_apply, integration_sync  # noqa: E402
from apps.integrations.spec import make_integration_spec  # noqa: E402
from apps.resources.models import AwsApp  # noqa: E402
from sandbox import moto_backend  # noqa: E402
from sandbox.seed import GUIDE_TRUST_POLICY, create_profile, create_trust_anchor  # noqa: E402
from sandbox.server import Sandbox  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## profile sync"
LATENCY = 0.020
WORKERS = 4
THROTTLE_RATE = 10.0
PAGE_SIZE = 50  # the sandbox's (and our) ListProfiles page size

SYNC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "rolesanywhere:ListProfiles",
                "rolesanywhere:ListTagsForResource",
                "rolesanywhere:ImportCrl",
                "rolesanywhere:ListCrls",
                "rolesanywhere:UpdateCrl",
            ],
            "Resource": ["*"],
        }
    ],
}


def via(conn: Connection) -> dict[str, Any]:
    """Send over this broker connection (the stubs do not know apply_async's `connection`)."""
    return {"connection": conn}


def region_for(index: int) -> str:
    """A distinct (syntactically valid) region per integration."""
    return f"us-bench-{index + 1}"


def build_account(sandbox: Sandbox, integrations: int, profiles: int, prefix: str) -> list[str]:
    """Create trust anchors, sync profiles, P profiles per region and the integrations."""
    from apps.authority.selectors import ca_bundle_pem

    bundle = ca_bundle_pem()
    sync_role = moto_backend.create_role(
        f"{prefix}Sync", GUIDE_TRUST_POLICY, inline_policies={"sync": SYNC_POLICY}
    )
    app_role = moto_backend.create_role(f"{prefix}App", GUIDE_TRUST_POLICY)
    names = []
    for index in range(integrations):
        region = region_for(index)
        anchor = create_trust_anchor(sandbox, bundle, name=f"{prefix}{index}", region=region)
        sync_profile = create_profile(sandbox, "RolegateProfileSync", [sync_role], region=region)
        for number in range(profiles):
            create_profile(
                sandbox,
                f"{prefix}-{index}-Profile_{number}",
                [app_role],
                region=region,
                tags={"team": f"t{number % 7}", "env": "prod" if number % 2 else "dev"},
            )
        name = f"{prefix.lower()}-{index}"
        spec = make_integration_spec(
            name=name,
            trust_anchor_arn=anchor,
            sync_enabled=True,
            sync_profile_arn=sync_profile,
            sync_role_arn=sync_role,
        )
        integration_apply(actor=None, spec=spec, request_sync=False)
        names.append(name)
    return names


def calls_per_sync(profiles: int, *, crl_first_time: bool) -> int:
    """CreateSession + ListProfiles pages + one ListTagsForResource per profile (+ CRL)."""
    pages = -(-(profiles + 1) // PAGE_SIZE)  # the sync profile is listed too
    return 1 + pages + profiles + (2 if crl_first_time else 0)


def start_worker(sandbox: Sandbox, broker: str) -> subprocess.Popen[bytes]:
    database = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": (
                f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "CELERY_BROKER_URL": broker,
            "AWS_ENDPOINT_URL": sandbox.url,
            "ROLEGATE_PROFILE_SYNC_RATE": "0",
        }
    )
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "portal",
            "worker",
            f"--concurrency={WORKERS}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=bench-sync-{os.getpid()}@%h",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for_runs(count: int, timeout: float) -> list[SyncRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(SyncRun.objects.exclude(status=SyncRun.Status.RUNNING))
        if len(runs) >= count:
            return runs
        time.sleep(0.5)
    raise SystemExit(f"timed out: {SyncRun.objects.count()} runs after {timeout:.0f}s")


def scenario_a(sandbox: Sandbox, integrations: int, profiles: int, broker: str) -> dict[str, Any]:
    """Fan-out across 4 Celery worker processes with 20 ms latency per call."""
    sandbox.reset()
    names = build_account(sandbox, integrations, profiles, "A")
    sandbox.faults.latency(LATENCY)
    from apps.integrations.tasks import sync_all_integrations

    with Connection(broker) as conn:
        cast(Any, conn.default_channel).queue_purge("celery")
    worker = start_worker(sandbox, broker)
    try:
        time.sleep(3)  # let the worker start before the clock runs
        started = time.monotonic()
        with Connection(broker) as conn:
            sync_all_integrations.apply_async(**via(conn))
        runs = wait_for_runs(len(names), timeout=1800)
        wall = time.monotonic() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    statuses = sorted({run.status for run in runs})
    first_start = min(run.started_at for run in runs)
    last_end = max(run.ended_at for run in runs if run.ended_at)
    calls = integrations * calls_per_sync(profiles, crl_first_time=True)
    floor = calls / WORKERS * LATENCY
    # Queries of one run, in process: first sync (creates) and a no-change resync.
    sandbox.faults.clear()
    settings.ROLEGATE_PROFILE_SYNC_RATE = 0
    target = names[0]
    AwsApp.objects.filter(integration__name=target).delete()
    with CaptureQueriesContext(connection) as first:
        integration_sync(name=target)
    with CaptureQueriesContext(connection) as again:
        resync = integration_sync(name=target)
    return {
        "integrations": integrations,
        "profiles": profiles,
        "apps": AwsApp.objects.count(),
        "statuses": statuses,
        "wall": wall,
        "runs_span": (last_end - first_start).total_seconds(),
        "calls": calls,
        "floor": floor,
        "queries_first": len(first.captured_queries),
        "queries_resync": len(again.captured_queries),
        "resync_writes": resync.apps_created + resync.apps_updated + resync.apps_deleted,
    }


def scenario_b(sandbox: Sandbox, profiles: int, rate: float) -> dict[str, Any]:
    """One integration under AWS-like throttling at 10 req/s per family; pacing at `rate`."""
    sandbox.reset()
    Integration.objects.all().delete()
    (name,) = build_account(sandbox, 1, profiles, "B")
    for family in ("profiles", "tags", "crls", "sessions"):
        sandbox.faults.throttle(family, THROTTLE_RATE)
    settings.ROLEGATE_PROFILE_SYNC_RATE = rate
    time.sleep(1.5)  # let the token buckets refill after the set-up
    started = time.monotonic()
    outcome = integration_sync(name=name)
    wall = time.monotonic() - started
    sandbox.faults.clear()
    # The tags family is the busiest: one ListTagsForResource per profile.
    floor = profiles / THROTTLE_RATE
    return {
        "rate": rate,
        "wall": wall,
        "floor": floor,
        "status": outcome.status,
        "synced": outcome.profiles_synced,
        "error": outcome.error_message[:200],
    }


def record(text: str) -> None:
    """Replace the profile-sync section's body with `text`, keeping other sections."""
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
    parser.add_argument("--integrations", type=int, default=50)
    parser.add_argument("--profiles", type=int, default=250)
    parser.add_argument("--skip-a", action="store_true")
    parser.add_argument("--skip-b", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    broker = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    sandbox = Sandbox(host="127.0.0.1", port=0).start()
    os.environ["AWS_ENDPOINT_URL"] = sandbox.url
    results: dict[str, Any] = {}
    args.load_before = os.getloadavg()[0]
    try:
        if not args.skip_a:
            results["a"] = scenario_a(sandbox, args.integrations, args.profiles, broker)
            print(json.dumps(results["a"], indent=2, default=str))
        if not args.skip_b:
            results["b_paced"] = scenario_b(sandbox, args.profiles, THROTTLE_RATE)
            print(json.dumps(results["b_paced"], indent=2))
            results["b_unpaced"] = scenario_b(sandbox, args.profiles, 0)
            print(json.dumps(results["b_unpaced"], indent=2))
    finally:
        sandbox.stop()
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    if not args.no_record and results:
        record(report(results, args))
        print(f"recorded in {RESULTS.relative_to(ROOT)}")


def _database_name() -> str:
    """The database named in DATABASE_URL (the benchmark runs in a copy prefixed bench_)."""
    return os.environ.get("DATABASE_URL", "").rsplit("/", 1)[-1]


def _tag_workers() -> int:
    """Tag readers per integration, as the sync reads the setting (workers inherit it)."""
    from django.conf import settings

    from apps.integrations.services import listing

    return int(getattr(settings, "ROLEGATE_PROFILE_SYNC_TAG_WORKERS", listing.TAG_READ_WORKERS))


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {stamp} with `ROLEGATE_ENV=test DATABASE_URL=postgres://…/"
        f"{_database_name()} REDIS_URL={os.environ.get('REDIS_URL', '')} "
        f".venv/bin/python bench/bench_sync.py --integrations {args.integrations} --profiles "
        f"{args.profiles}` (ROLEGATE_PROFILE_SYNC_TAG_WORKERS={_tag_workers()}; Python "
        f"{platform.python_version()}, {platform.machine()}, shared 2-core machine, 1-minute "
        f"load average {args.load_before:.2f} before and {os.getloadavg()[0]:.2f} after; the "
        "sandbox, "
        "PostgreSQL, Redis and the workers all share those 2 cores).",
        "",
    ]
    if "a" in results:
        a = results["a"]
        lines += [
            f"(a) {a['integrations']} integrations x {a['profiles']} profiles, "
            f"{LATENCY * 1000:.0f} ms latency per call, no throttling, `celery worker "
            f"--concurrency {WORKERS}`:",
            "",
            "| AWS calls | floor (calls / 4 x 20 ms) | wall time (enqueue to last run) | "
            "runs' span | ratio | apps | statuses |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {a['calls']:,} | {a['floor']:.1f} s | {a['wall']:.1f} s | {a['runs_span']:.1f} s "
            f"| {a['wall'] / a['floor']:.2f}x | {a['apps']:,} | {', '.join(a['statuses'])} |",
            "",
            f"Queries per run ({a['profiles']} profiles, in process): first sync "
            f"{a['queries_first']}, no-change resync {a['queries_resync']} with "
            f"{a['resync_writes']} app rows written (the tests pin that 2 and 60 profiles cost "
            "the same number of queries).",
            "",
        ]
    if "b_paced" in results:
        paced, unpaced = results["b_paced"], results["b_unpaced"]
        lines += [
            f"(b) 1 integration x {args.profiles} profiles, sandbox throttling every Roles "
            f"Anywhere family at {THROTTLE_RATE:g} req/s; quota floor = {args.profiles} "
            f"ListTagsForResource / {THROTTLE_RATE:g} per s = {paced['floor']:.1f} s:",
            "",
            "| client pacing | wall time | ratio to floor | status | synced |",
            "|---|---:|---:|---|---:|",
            f"| {THROTTLE_RATE:g} req/s per family | {paced['wall']:.1f} s | "
            f"{paced['wall'] / paced['floor']:.2f}x | {paced['status']} | {paced['synced']} |",
            f"| off (adaptive retries only) | {unpaced['wall']:.1f} s | "
            f"{unpaced['wall'] / unpaced['floor']:.2f}x | {unpaced['status']} | "
            f"{unpaced['synced']} |",
        ]
        if unpaced["error"]:
            lines += ["", f"Unpaced run's error: `{unpaced['error'].splitlines()[0]}`"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
