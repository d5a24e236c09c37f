"""Whole-process time of `rolegate aws credentials`: cache hit vs `python -c pass`, and a miss.

The AWS CLI starts `credential_process` for every command, so the hit path's start-up time is
what users feel. Target: a hit costs at most 3x a bare interpreter start, measured in the same
run, interleaved (hit, bare, hit, bare, ...) so machine noise hits both alike.

The miss runs against a local stub of the Rolegate API that answers instantly: it measures the
CLI's own miss cost (HTTP client, awsra validation, file lock, cache write), not the server's
issuance (certificate + CreateSession), which tests/api covers against the sandbox.

Run: .venv/bin/python bench/bench_cli.py [--runs 30] [--no-record]
Prints a table and appends it under "## CLI" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## CLI"
VENV_BIN = Path(sys.executable).parent
ROLEGATE = str(VENV_BIN / "rolegate")
APP = "bench-app"
ROLE = "arn:aws:iam::123456789012:role/Bench"
TARGET_RATIO = 3.0


class _Stub(BaseHTTPRequestHandler):
    """Answers POST /api/v1/apps/APP/credentials with fresh credentials, nothing else."""

    def log_message(self, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = json.dumps(
            {
                "Version": 1,
                "AccessKeyId": "ASIABENCH",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": expiration,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, list[float]]:
    """Run each case `runs` times (interleaved); return the wall times in seconds."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEGATE_")}
        env["ROLEGATE_HOME"] = home
        login = {
            "proxy": proxy,
            "user": "bench",
            "token": "rgt_0123456789ab_bench",
            "expires_at": (datetime.now(UTC) + timedelta(hours=8)).isoformat(),
        }
        Path(home, "login.json").write_text(json.dumps(login))
        credentials = [ROLEGATE, "aws", "credentials", "--app", APP, "--aws-role", ROLE]
        bare = [sys.executable, "-c", "pass"]
        cache = Path(home, "cache")
        times: dict[str, list[float]] = {"python -c pass": [], "hit": [], "miss": []}
        _timed(credentials, env)  # warm the OS file cache and fill the credential cache
        for _ in range(runs):
            times["hit"].append(_timed(credentials, env))
            times["python -c pass"].append(_timed(bare, env))
        for _ in range(runs):
            for entry in cache.glob("*.json"):
                entry.unlink()
            times["miss"].append(_timed(credentials, env))
    server.shutdown()
    server.server_close()
    return times


def table(times: dict[str, list[float]]) -> tuple[str, float]:
    """A Markdown table of medians (and the hit/bare ratio)."""
    bare = statistics.median(times["python -c pass"])
    lines = [
        "| case | median ms | p90 ms | vs `python -c pass` |",
        "|---|---:|---:|---:|",
    ]
    labels = {
        "python -c pass": "`python -c pass`",
        "hit": "`rolegate aws credentials`, cache hit",
        "miss": "`rolegate aws credentials`, cache miss (stub API)",
    }
    for name, values in times.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else median
        lines.append(
            f"| {labels[name]} | {median * 1000:.1f} | {p90 * 1000:.1f} | {median / bare:.2f}x |"
        )
    return "\n".join(lines), statistics.median(times["hit"]) / bare


def record(text: str) -> None:
    """Append `text` at the end of the CLI section, creating the file/section if needed."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if HEADING not in existing.splitlines():
        RESULTS.write_text(existing.rstrip("\n") + f"\n\n{HEADING}\n\n{text}\n")
        return
    lines = existing.splitlines()
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = lines[start:end]
    while section and not section[-1].strip():
        section.pop()
    new = lines[:start] + section + ["", *text.splitlines(), ""] + lines[end:]
    RESULTS.write_text("\n".join(new).rstrip("\n") + "\n")


def main() -> None:
    """Measure, print, record; exit 1 when the hit path misses its 3x target."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per case")
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    output, ratio = table(measure(max(2, args.runs)))
    verdict = f"Cache hit / bare interpreter: {ratio:.2f}x (target <= {TARGET_RATIO:g}x)."
    print(output)
    print(verdict)
    if not args.no_record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        record(
            f"Run {stamp} with `.venv/bin/python bench/bench_cli.py --runs {args.runs}` "
            f"(Python {platform.python_version()}, {platform.machine()}, shared 2-core machine: "
            f"absolute numbers are noisy, the ratio is the figure).\n\n{output}\n\n{verdict}"
        )
        print(f"\nrecorded in {RESULTS.relative_to(RESULTS.parents[1])}")
    if ratio > TARGET_RATIO:
        sys.exit(1)


if __name__ == "__main__":
    main()
