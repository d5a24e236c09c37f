"""Issuance throughput with the keyed audit chain sealed at commit, against no sealing.

Run: DATABASE_URL=postgres://... .venv/bin/python bench/bench_audit_chain.py [--issuances 40]
    [--rounds 3] [--threads 4] [--no-record]

Both modes issue credentials through `aws_credentials_issue` (RBAC, leaf certificate, audit
event, CreateSession against the in-process sandbox over local HTTP), in the same run and
alternating round by round so that the machine's background load hits both alike:

- *keyed chain*: `ROLEGATE_AUDIT_SEAL_ON_COMMIT=true` (the default): each issuance's audit event
  gets its HMAC link right after commit (one more short transaction holding the chain lock);
- *no sealing*: the anchor, events left unsealed (what the beat sweep would seal later).

Sequential issuances measure the added latency; `--threads` issuers at once measure contention
on the chain lock. The isolated cost of one seal is reported as well. Records its section in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ROLEGATE_ENV", "test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## audit chain: issuance throughput, keyed chain vs none"
MODES = {"keyed chain (sealed at commit)": True, "no sealing (anchor)": False}


class _Settings:
    """Attribute writes go to django.conf.settings (what the fixture's `settings` does)."""

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(settings, name, value)


def _issue_many(scenario: Any, count: int, threads: int) -> float:
    """Issue `count` credentials with `threads` issuers; return issuances per second."""
    from apps.resources.services import aws_credentials_issue

    per_thread = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(n):
                aws_credentials_issue(
                    actor=scenario.alice,
                    app_name=scenario.app.name,
                    role_arn=scenario.role_arn,
                    purpose="cli",
                )
        except BaseException as error:  # reported below; a failed run must not look fast
            errors.append(error)
        finally:
            connections.close_all()

    start = time.perf_counter()
    if threads == 1:
        work(count)
    else:
        workers = [threading.Thread(target=work, args=(n,)) for n in per_thread]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return count / elapsed


def _seal_cost(samples: int) -> list[float]:
    """Milliseconds for one after-commit seal of one event, alone."""
    from apps.audit.chain import audit_seal
    from apps.audit.services import audit_record

    settings.ROLEGATE_AUDIT_SEAL_ON_COMMIT = False
    times = []
    for _ in range(samples):
        event = audit_record(event_type="bench.recorded", actor=None, target_kind="bench")
        start = time.perf_counter()
        audit_seal(event_ids=[event.id])
        times.append((time.perf_counter() - start) * 1000)
    return times


def run(issuances: int, rounds: int, threads: int) -> dict[str, Any]:
    from sandbox.server import Sandbox
    from tests.resources.conftest import build_launch_scenario

    sandbox = Sandbox(host="127.0.0.1", port=0)
    sandbox.start()
    try:
        sandbox.reset()
        scenario = build_launch_scenario(
            sandbox, setenv=lambda k, v: os.environ.__setitem__(k, v), settings=_Settings()
        )
        settings.ROLEGATE_ISSUANCE_RATE_LIMIT = 0  # measuring throughput, not the limit
        _issue_many(scenario, 5, 1)  # warm-up
        results: dict[str, dict[int, list[float]]] = {m: {1: [], threads: []} for m in MODES}
        for _ in range(rounds):
            for mode, seal in MODES.items():
                settings.ROLEGATE_AUDIT_SEAL_ON_COMMIT = seal
                results[mode][1].append(_issue_many(scenario, issuances, 1))
                results[mode][threads].append(_issue_many(scenario, issuances, threads))
        seal_ms = _seal_cost(issuances)
        from apps.audit.chain import audit_seal, audit_verify

        settings.ROLEGATE_AUDIT_SEAL_ON_COMMIT = True
        audit_seal()
        report = audit_verify()
        assert report.ok, report.reason
        return {"results": results, "seal_ms": seal_ms, "links": report.links_checked}
    finally:
        sandbox.stop()


def table(data: dict[str, Any], threads: int) -> str:
    results = data["results"]
    anchor = next(m for m, seal in MODES.items() if not seal)
    lines = [
        "| mode | issuers | issuances/s (median of rounds) | rounds | vs no sealing |",
        "|---|---:|---:|---|---:|",
    ]
    for count in (1, threads):
        base = statistics.median(results[anchor][count])
        for mode in MODES:
            rates = results[mode][count]
            median = statistics.median(rates)
            each = ", ".join(f"{rate:.1f}" for rate in rates)
            lines.append(f"| {mode} | {count} | {median:.1f} | {each} | {median / base:.2f}x |")
    seal = data["seal_ms"]
    lines += [
        "",
        f"One after-commit seal alone: p50 {statistics.median(seal):.2f} ms, max "
        f"{max(seal):.2f} ms ({len(seal)} samples). After the run `audit_verify` checked "
        f"{data['links']} links: intact.",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--issuances", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    settings.ROLEGATE_CA_ENCRYPTION_KEY = "bench-only-key-encryption-key-0123456789abcdef"
    settings.ROLEGATE_AUDIT_KEY = "bench:" + "bench-only-audit-key-0123456789abcdef"
    settings.ALLOWED_HOSTS = ["testserver"]
    setup_test_environment()
    load_before = os.getloadavg()
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_audit_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        data = run(args.issuances, args.rounds, args.threads)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    load_after = os.getloadavg()
    output = table(data, args.threads)
    print(output)
    if args.no_record:
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    record(
        f"Run {stamp} with `.venv/bin/python bench/bench_audit_chain.py --issuances "
        f"{args.issuances} --rounds {args.rounds} --threads {args.threads}` (Python "
        f"{platform.python_version()}, {platform.machine()}, {connection.vendor}, the in-process "
        f"sandbox as AWS; shared 2-core machine, load average "
        f"{'/'.join(f'{v:.2f}' for v in load_before)} before and "
        f"{'/'.join(f'{v:.2f}' for v in load_after)} after). Each round issues "
        f"{args.issuances} credentials per mode and issuer count, modes alternating; the ratio "
        "to the no-sealing anchor of the same run is the figure.\n\n"
        f"{output}"
    )
    print(f"\nrecorded in {RESULTS.relative_to(RESULTS.parents[1])}")


if __name__ == "__main__":
    main()
