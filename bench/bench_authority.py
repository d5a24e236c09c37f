"""Leaf issuances per second on one core, against the floor (one P-256 keygen + one signature).

Run: DATABASE_URL=postgres://... .venv/bin/python bench/bench_authority.py [--seconds 5]
    [--no-record]

Measures, interleaved in the same process (pinned to one CPU):
- floor: `ec.generate_private_key(P-256)` + one ECDSA-SHA256 signature over a TBS-sized message;
- `pki.build_leaf`: the real leaf (fresh key, certificate DER, CA signature), no database;
- `certificate_issue`: the service, which also inserts the LeafCertificate row (autocommit:
  one commit per leaf), against a throw-away test database;
- the issuance path's rows: the leaf and its intent audit row in one transaction, as
  `apps.resources.services.issuance._sign_with_intent` commits them before CreateSession.
Each is timed on the process CPU clock and the wall clock in the same rounds: the CPU clock
is the figure for the database-free rows (their cost, whatever the neighbours do); the rows
with the database are wall-clock (the process waits for PostgreSQL, on no CPU clock).
Prints a table and records it under "## authority" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ROLEGATE_ENV", "test")

import django

django.setup()

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from apps.audit import events  # noqa: E402
from apps.audit.services import audit_record  # noqa: E402
from apps.authority import pki, services  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## authority"
ROUNDS = 5
BATCH = 50
ISSUERS = 4
# A leaf's TBSCertificate is ~300 bytes; sign a message of that size for the floor.
TBS_SIZED = b"\x30" * 300

Operation = Callable[[], object]


def rate(operation: Operation, seconds: float) -> tuple[float, float]:
    """(per CPU second, per wall second) over at least `seconds` (after a short warm-up)."""
    for _ in range(5):
        operation()
    count = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(10):
            operation()
        count += 10
        now = time.perf_counter()
        if now >= deadline:
            cpu = max(time.process_time() - cpu_start, 1e-9)
            return count / cpu, count / (now - start)


def floor() -> object:
    """The least any leaf issuance must do: a fresh key and one signature."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.sign(TBS_SIZED, ec.ECDSA(hashes.SHA256()))


def measure(seconds: float) -> dict[str, tuple[float, float]]:
    """Best-of-rounds rate of each operation, interleaved so load changes hit all alike."""
    authority = services.ca_ensure(actor=None)
    signer = services._signer_for(authority)

    def build_leaf() -> object:
        return pki.build_leaf(
            signer,
            subject_cn="alice",
            serial=pki.random_serial(),
            now=datetime.now(UTC),
            ttl=timedelta(minutes=1),
        )

    def build_leaf_with_builder() -> object:
        return pki.build_leaf_with_builder(
            signer,
            subject_cn="alice",
            serial=pki.random_serial(),
            now=datetime.now(UTC),
            ttl=timedelta(minutes=1),
        )

    def issue() -> object:
        return services.certificate_issue(subject_cn="alice", purpose="bench", actor=None)

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_commit_floor (id bigserial PRIMARY KEY, v integer)")

    def commit_floor() -> object:
        # The database's own floor on this machine: one tiny row, one index, one commit.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_commit_floor (v) VALUES (1)")
        return None

    def issue_with_intent() -> object:
        # What an issuance commits before CreateSession: the leaf row and its intent audit
        # row, in one transaction (one commit).
        with transaction.atomic():
            leaf = services.certificate_issue(subject_cn="alice", purpose="bench", actor=None)
            audit_record(
                event_type=events.AWS_CREDENTIALS_REQUESTED,
                actor=None,
                actor_name="bench",
                outcome="pending",
                target_kind="app",
                target_name="bench-app",
                details={"certificate_serial": leaf.serial_hex},
                seal=False,
            )
        return leaf

    def issue_batch() -> object:
        # The launch path issues inside the caller's transaction (with its audit event), so
        # the commit is shared; this shows the cost with the commit amortised over a batch.
        with transaction.atomic():
            for _ in range(BATCH):
                issue()
        return None

    operations = {
        "floor": floor,
        "build_leaf": build_leaf,
        "build_leaf_with_builder": build_leaf_with_builder,
        "commit_floor": commit_floor,
        "certificate_issue": issue,
        "issue_with_intent": issue_with_intent,
        "certificate_issue_batched": issue_batch,
    }
    scale = {"certificate_issue_batched": BATCH}
    best = dict.fromkeys(operations, (0.0, 0.0))
    best["issue_with_intent_concurrent"] = (0.0, 0.0)
    for _ in range(ROUNDS):
        for name, operation in operations.items():
            cpu, wall = rate(operation, seconds / ROUNDS)
            factor = scale.get(name, 1)
            best[name] = (max(best[name][0], cpu * factor), max(best[name][1], wall * factor))
        together = concurrent_rate(issue_with_intent, seconds / ROUNDS, ISSUERS)
        best["issue_with_intent_concurrent"] = (
            0.0,
            max(best["issue_with_intent_concurrent"][1], together),
        )
    return best


def concurrent_rate(operation: Operation, seconds: float, workers: int) -> float:
    """Aggregate operations per wall second of `workers` threads (each its own connection),
    as one multi-threaded web worker issues: commits overlap while the Python stays on the
    one CPU this process is pinned to."""
    counts = [0] * workers
    start_line = threading.Barrier(workers + 1)

    def work(index: int) -> None:
        try:
            for _ in range(3):
                operation()
            start_line.wait()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                operation()
                counts[index] += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def table(best: dict[str, tuple[float, float]]) -> str:
    cpu_floor, wall_floor = best["floor"]

    def crypto(label: str, name: str) -> str:
        cpu, wall = best[name]
        return (
            f"| {label} | {cpu:,.0f} | {cpu / cpu_floor:.2f}x | {wall:,.0f} "
            f"| {wall / wall_floor:.2f}x | — |"
        )

    commit = best["commit_floor"][1]

    def database(label: str, name: str) -> str:
        _cpu, wall = best[name]
        return (
            f"| {label} | — | — | {wall:,.0f} | {wall / wall_floor:.2f}x | {wall / commit:.2f}x |"
        )

    lines = [
        "| operation | per CPU second | vs floor (CPU) | per wall second | vs floor (wall) "
        "| vs commit floor |",
        "|---|---:|---:|---:|---:|---:|",
        crypto("floor: P-256 keygen + 1 ECDSA signature", "floor"),
        crypto(
            "`pki.build_leaf`: per-CA template, signed once, DER out (no database)", "build_leaf"
        ),
        crypto(
            "`pki.build_leaf_with_builder`: CertificateBuilder (before; no database)",
            "build_leaf_with_builder",
        ),
        database(
            "commit floor: one tiny row, one index, COMMIT (no Rolegate code)", "commit_floor"
        ),
        database(
            "`certificate_issue` (+ 1 INSERT...SELECT, 1 commit per leaf)", "certificate_issue"
        ),
        database(
            "**leaf row + intent audit row, one transaction (what an issuance commits)**",
            "issue_with_intent",
        ),
        database(
            f"the same, {ISSUERS} concurrent issuers (threads of this one-CPU process)",
            "issue_with_intent_concurrent",
        ),
        database(
            f"`certificate_issue`, {BATCH} per transaction (commit amortised)",
            "certificate_issue_batched",
        ),
    ]
    return "\n".join(lines)


def record(text: str) -> None:
    """Replace the authority section's body with `text`, keeping other sections."""
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
    parser.add_argument("--seconds", type=float, default=5.0, help="time per operation")
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    settings.ROLEGATE_CA_ENCRYPTION_KEY = "bench-only-key-encryption-key-0123456789abcdef"
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    # Its own database name, so a test run on the same DATABASE_URL is not clobbered.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        best = measure(args.seconds)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    output = table(best)
    print(output)
    if not args.no_record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        engine = connection.vendor
        record(
            f"Run {stamp} with `DATABASE_URL=postgres://postgres@127.0.0.1:5432/"
            f"{os.environ.get('DATABASE_URL', '').rsplit('/', 1)[-1]} "
            f".venv/bin/python bench/bench_authority.py --seconds {args.seconds:g}` "
            f"(Python {platform.python_version()}, {platform.machine()}, benchmark process "
            f"pinned to one CPU, database: {engine} on the same shared 2-core machine, "
            "synchronous_commit on; best of 5 interleaved rounds; 1-minute load average "
            f"{load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the end).\n\n"
            f"{output}\n\n"
            "Targets (issue 23): `build_leaf` >= 0.6x the floor; leaf + row >= 1,000/s. The floor "
            "is the cost no implementation can avoid. `build_leaf` assembles the to-be-signed DER "
            "from parts cut once per CA, signs it once and returns the DER (`pki.Leaf`), never "
            "a parsed certificate (tests/authority/test_leaf_template.py checks it field by "
            "field and byte for byte against the builder's); its CPU-clock ratio is its cost, "
            "the wall-clock one also counts the CPU time neighbours took. The database rows are "
            "wall-clock: each issuance commits once (leaf row, then its intent audit row, in "
            "one transaction: 3 round trips), and the leaf table keeps 3 indexes an insert "
            "touches (primary key, serial, issued_at; migration authority 0002 dropped 7 no "
            "query used). A commit waits for the WAL flush of a disk shared with the other "
            "sessions' databases, so these rows measure this machine's commit latency first: "
            "the commit floor row is that latency alone, in the same rounds."
        )
        print(f"\nrecorded in {RESULTS.relative_to(RESULTS.parents[1])}")


if __name__ == "__main__":
    main()
