"""Run every benchmark in turn (``make bench``); each records its section in bench/RESULTS.md.

The load test (bench/locustfile.py) needs gunicorn, the sandbox and Redis running; see its own
runner. Pass ``--only NAME`` to run one benchmark (awsra, access, authority, resources, cli, sync,
intent, revocation, package).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS: dict[str, list[str]] = {
    "awsra": ["bench_awsra_sign.py"],
    "access": ["bench_access.py", "--write"],
    "authority": ["bench_authority.py"],
    "resources": ["bench_resources.py"],
    "cli": ["bench_cli.py"],
    "sync": ["bench_sync.py"],
    "intent": ["bench_issuance_intent.py"],
    "revocation": ["bench_revocation.py"],
    "package": ["bench_package.py"],
    "audit-chain": ["bench_audit_chain.py"],
}


def main() -> int:
    """Run the selected benchmarks; return non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    args = parser.parse_args()
    failed = []
    for name in args.only or list(BENCHMARKS):
        script, *extra = BENCHMARKS[name]
        started = time.monotonic()
        print(f"== {name}: {script} {' '.join(extra)}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *extra], check=False)
        print(
            f"== {name}: exit {result.returncode} in {time.monotonic() - started:.0f} s", flush=True
        )
        if result.returncode:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
