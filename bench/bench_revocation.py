"""Kill switch latency: from "end access" to the first AccessDenied on the revoked credentials.

Run: DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/N \
    .venv/bin/python bench/bench_revocation.py [--runs 20] [--no-record]

Set-up: the guide's account in the in-process sandbox (tests/resources/conftest.py) with
`session_revocation: {enabled: true}`; alice holds the guide's role through a grant, bob holds
it standing. Each run: approve a grant, issue alice's credentials (CreateSession), check that
S3 ListBuckets works, then end the grant (`access_request_end`) and call ListBuckets with the
same credentials every 20 ms until the first AccessDenied. Bob's credentials are checked to
still work after every run.

Two ways the push runs:
- worker: a real `celery -A portal worker` on Redis picks up the task queued at commit (the
  production path: broker hand-off, sign-in as Rolegate, GetRolePolicy + PutRolePolicy);
- in-process: the task runs eagerly inside the commit (the push's own cost, no broker).

The anchor is one S3 ListBuckets round trip to the sandbox, measured in the same run; the
figure is reported as p50 and as a ratio to that anchor, with the load average. Records its
section under "## session revocation" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ROLEGATE_ENV", "test")
# The push task goes through a real broker in the worker mode.
os.environ.setdefault(
    "CELERY_BROKER_URL", os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/2"
)

import django  # noqa: E402

django.setup()

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from kombu import Connection  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## session revocation"
POLL_SECONDS = 0.02


class _Settings:
    """Attribute writes go to django.conf.settings (what the fixture's `settings` does)."""

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(settings, name, value)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index]


def broker_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/2"


@contextmanager
def celery_worker(sandbox_url: str, log_path: Path) -> Iterator[None]:
    """A real worker on the bench database, the broker and the sandbox."""
    database = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "ROLEGATE_ENV": "test",
            "DATABASE_URL": (
                f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "CELERY_BROKER_URL": broker_url(),
            "AWS_ENDPOINT_URL": sandbox_url,
            "ROLEGATE_PROFILE_SYNC_RATE": "0",
            "ROLEGATE_CA_ENCRYPTION_KEY": str(settings.ROLEGATE_CA_ENCRYPTION_KEY),
            "ROLEGATE_CA_ENCRYPTION_KEY_FILE": str(settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE),
            "PYTHONPATH": str(ROOT),
        }
    )
    with Connection(broker_url()) as conn:
        conn.default_channel.queue_purge("celery")  # type: ignore[attr-defined]
    with log_path.open("w") as output:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "portal",
                "worker",
                "--concurrency=1",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=bench-revocation-{os.getpid()}@%h",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "ready" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start:\n" + log_path.read_text())
            time.sleep(0.2)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _s3(sandbox_url: str, credentials: Any) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name="us-east-1",
    )
    return session.client("s3", endpoint_url=sandbox_url)


def _denied(client: Any) -> bool:
    try:
        client.list_buckets()
    except ClientError as error:
        if error.response["Error"]["Code"] != "AccessDenied":
            raise
        return True
    return False


def run(runs: int, mode: str, scenario: Any, carol: Any) -> dict[str, list[float]]:
    """`runs` grant/end cycles; milliseconds from end to the first AccessDenied."""
    from apps.access.requests import services as requests
    from apps.resources.services import aws_credentials_issue
    from portal.celery import app as celery_app

    celery_app.conf.task_always_eager = mode == "in-process"
    url = scenario.sandbox.url
    bob = _s3(
        url,
        aws_credentials_issue(
            actor=scenario.bob,
            app_name=scenario.app.name,
            role_arn=scenario.role_arn,
            purpose="cli",
        ),
    )
    latencies: list[float] = []
    anchors: list[float] = []
    for _ in range(runs + 1):
        grant = requests.access_request_create(
            actor=scenario.alice, roles=["example-read-only-access"], reason="bench", duration="1h"
        )
        requests.access_request_review(actor=carol, request_id=grant.pk, decision="approve")
        alice = _s3(
            url,
            aws_credentials_issue(
                actor=scenario.alice,
                app_name=scenario.app.name,
                role_arn=scenario.role_arn,
                purpose="cli",
            ),
        )
        start = time.perf_counter()
        assert not _denied(alice)
        anchors.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        requests.access_request_end(actor=scenario.alice, request_id=grant.pk)
        while not _denied(alice):
            if time.perf_counter() - start > 60:
                raise RuntimeError("the revoked credentials still work after 60 s")
            time.sleep(POLL_SECONDS)
        latencies.append((time.perf_counter() - start) * 1000)
        assert not _denied(bob), "bob's credentials were revoked too"
    # The first cycle warms imports and connections.
    return {"latency": latencies[1:], "anchor": anchors[1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    from django.test.utils import setup_test_environment

    setup_test_environment()
    load_before = os.getloadavg()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    from sandbox.server import Sandbox

    sandbox = Sandbox(host="127.0.0.1", port=0)
    sandbox.start()
    results: dict[str, dict[str, list[float]]] = {}
    try:
        scenario, carol = set_up(sandbox)
        with celery_worker(sandbox.url, Path(f"/tmp/bench-revocation-worker-{os.getpid()}.log")):
            results["worker"] = run(args.runs, "worker", scenario, carol)
        results["in-process"] = run(args.runs, "in-process", scenario, carol)
    finally:
        sandbox.stop()
    load_after = os.getloadavg()
    text = report(results, args.runs, load_before, load_after)
    print(text)
    if not args.no_record:
        record(text)


def set_up(sandbox: Any) -> tuple[Any, Any]:
    """The guide's scenario with the kill switch armed (as tests/revocation/conftest.py)."""
    import json

    from apps.access.services import role_create
    from apps.accounts.models import User
    from tests.resources.conftest import ACCESS_ROLE, build_launch_scenario
    from tests.revocation.conftest import REVOCATION_POLICY, enable_revocation

    scenario = build_launch_scenario(
        sandbox, setenv=lambda k, v: os.environ.__setitem__(k, v), settings=_Settings()
    )
    scenario.iam.put_role_policy(
        RoleName="RolegateProfileSync",
        PolicyName="RolegateSessionRevocation",
        PolicyDocument=json.dumps(REVOCATION_POLICY),
    )
    enable_revocation(scenario)
    role_create(actor=None, name="requester", spec={"allow": {"request": {"roles": ["example-*"]}}})
    role_create(
        actor=None, name="approver", spec={"allow": {"review_requests": {"roles": ["example-*"]}}}
    )
    scenario.alice.roles = ["requester"]
    scenario.alice.save(update_fields=["roles"])
    scenario.bob.roles = [ACCESS_ROLE]
    scenario.bob.save(update_fields=["roles"])
    carol = User.objects.create_user(username="carol", roles=["approver"])
    return scenario, carol


def report(
    results: dict[str, dict[str, list[float]]],
    runs: int,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"Recorded {now} UTC by `bench/bench_revocation.py --runs {runs}` on CPython "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average before "
        f"{'/'.join(f'{v:.2f}' for v in load_before)}, after "
        f"{'/'.join(f'{v:.2f}' for v in load_after)}.",
        "",
        "Time from `access_request_end` (ending alice's grant early) to the first AccessDenied "
        "on her same credentials (S3 ListBuckets polled every 20 ms), sandbox over local HTTP; "
        "bob's credentials on the same role checked to keep working after each run. Anchor: "
        "one S3 ListBuckets round trip in the same run.",
        "",
        "| push runs in | p50 ms | p90 ms | max ms | anchor p50 ms | p50 / anchor | runs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, data in results.items():
        latency, anchor = data["latency"], data["anchor"]
        anchor_p50 = statistics.median(anchor)
        p50 = statistics.median(latency)
        lines.append(
            f"| {mode} | {p50:.0f} | {percentile(latency, 0.9):.0f} | {max(latency):.0f} | "
            f"{anchor_p50:.1f} | {p50 / anchor_p50:.1f}x | {len(latency)} |"
        )
    lines += [
        "",
        "What the time is: the end's transaction (audit, revocation entry), then the push task: "
        "a one-minute certificate and CreateSession as the sync role, GetRolePolicy and "
        "PutRolePolicy of `RolegateRevokedSessions`, the run row and its audit event; with a "
        "worker, plus the broker hand-off. Real IAM adds its own propagation delay (eventually "
        "consistent, typically seconds), which the sandbox does not model.",
    ]
    return "\n".join(lines)


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


if __name__ == "__main__":
    main()
