"""Production install size and package count, now vs before the sandbox extra; gunicorn worker
RSS after a load run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rolegate REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/bench_package.py [--base-commit COMMIT] [--requests N]

Both installs are fresh virtualenvs from a wheel (deploy/build-wheel.sh, deploy/install.sh for
the current one), measured against a bare virtualenv made in the same run (the anchor). The RSS
figure is each `rolegate-server web` worker's VmRSS after boot (the anchor) and after N requests
(login page, its CSS/JS, /readyz, /metrics, refused API sign-ins) from 8 client threads.
Appends its section under "## production package" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.packaging.conftest import _wheelhouse  # noqa: E402 - after the path set-up
from tests.packaging.support import free_port, http, production_environ, stop  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## production package"
PYTHON = shutil.which("python3.11") or sys.executable


def build_wheel(source: Path, out: Path) -> Path:
    subprocess.run(
        ["sh", str(ROOT / "deploy" / "build-wheel.sh"), str(source), str(out)],
        env={**os.environ, "PYTHON": sys.executable, "PIP_WHEEL_ARGS": "--no-build-isolation"},
        check=True,
        capture_output=True,
    )
    return next(out.glob("rolegate-*.whl"))


def base_source(commit: str, into: Path) -> Path:
    """The source tree at `commit` (today's packaging, before this change)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def install(wheel: Path, venv: Path) -> None:
    house = _wheelhouse(wheel)
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(house),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )


def measure(venv: Path) -> tuple[int, int]:
    """(bytes on disk, installed distributions other than pip and setuptools)."""
    size = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink())
    site = next(venv.glob("lib/python*/site-packages"))
    names = [p.name.split("-")[0].lower() for p in site.glob("*.dist-info")]
    return size, len([n for n in names if n not in ("pip", "setuptools")])


def worker_rss(master: int) -> list[int]:
    """VmRSS (kB) of each child of the gunicorn master."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]))
    return sizes


def load(base: str, requests: int, token: str) -> tuple[float, int]:
    browser = {"Host": "rolegate.test", "X-Forwarded-Proto": "https"}
    page = http(base + "/accounts/login/", headers=browser).body.decode()
    import re

    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    paths = ["/accounts/login/", *assets, "/readyz", "/metrics"]
    login = json.dumps({"username": "nobody", "password": "wrong"}).encode()

    def one(n: int) -> int:
        if n % 10 == 9:
            return http(
                base + "/api/v1/auth/password",
                method="POST",
                headers={**browser, "Content-Type": "application/json"},
                body=login,
            ).status
        headers = dict(browser)
        path = paths[n % len(paths)]
        if path == "/metrics":
            headers["Authorization"] = f"Bearer {token}"
        return http(base + path, headers=headers).status

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(requests)))
    errors = len([s for s in statuses if s >= 500])
    return time.monotonic() - started, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-commit", default="a09166a")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="rolegate-bench-package-"))
    try:
        bare = work / "bare"
        subprocess.run([PYTHON, "-m", "venv", str(bare)], check=True)
        bare_size, _ = measure(bare)

        now_wheel = build_wheel(ROOT, work / "dist-now")
        (work / "old-src").mkdir()
        old_wheel = build_wheel(base_source(args.base_commit, work / "old-src"), work / "dist-old")
        install(old_wheel, work / "old")
        old_size, old_count = measure(work / "old")
        subprocess.run(
            ["sh", str(ROOT / "deploy" / "install.sh"), str(now_wheel.parent), str(work / "now")],
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(work),
                "PYTHON": PYTHON,
                "PIP_INSTALL_ARGS": f"--no-index --find-links {_wheelhouse(now_wheel)}",
            },
            check=True,
            capture_output=True,
            cwd=work,
        )
        now_size, now_count = measure(work / "now")

        database = f"rg_bench_package_{os.getpid()}"
        parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
        admin = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        token = "bench-metrics-token"  # noqa: S105 - a throw-away server's token
        redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        environ = production_environ(
            work / "secrets",
            DATABASE_URL=parts._replace(path=f"/{database}").geturl(),
            CELERY_BROKER_URL=redis_url,
            REDIS_URL=redis_url,
            ROLEGATE_CACHE_PREFIX=f"bench-{os.getpid()}",
            ROLEGATE_METRICS_TOKEN=token,
            ROLEGATE_HSTS_SECONDS="0",
        )
        server = str(work / "now" / "bin" / "rolegate-server")
        subprocess.run([server, "migrate", "--verbosity", "0"], env=environ, cwd=work, check=True)
        port = free_port()
        log = (work / "web.log").open("wb")
        process = subprocess.Popen(
            [server, "web", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=environ,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    http(base + "/healthz", timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline
                    assert process.poll() is None
                    time.sleep(0.3)
            http(
                base + "/accounts/login/",
                headers={"Host": "rolegate.test", "X-Forwarded-Proto": "https"},
            )
            time.sleep(1)
            booted = worker_rss(process.pid)
            seconds, errors = load(base, args.requests, token)
            loaded = worker_rss(process.pid)
        finally:
            stop(process, quick=True)
            log.close()
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    mib = 1024 * 1024
    text = "\n".join(
        [
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `.venv/bin/python "
            f"bench/bench_package.py --base-commit {args.base_commit} --requests "
            f"{args.requests}` (Python {sys.version.split()[0]}, 2 shared cores; load average "
            f"{load_before[0]:.2f} before, {load_after[0]:.2f} after).",
            "",
            "| install (fresh virtualenv) | size on disk | vs bare venv | distributions |",
            "|---|---:|---:|---:|",
            f"| bare `python -m venv` (anchor) | {bare_size / mib:.0f} MiB | 1.00x | 0 |",
            f"| before: `pip install rolegate` at {args.base_commit} (moto, honcho in the base "
            f"dependencies) | {old_size / mib:.0f} MiB | {old_size / bare_size:.1f}x "
            f"| {old_count} |",
            f"| now: `deploy/install.sh` (production dependencies, collected static files) "
            f"| {now_size / mib:.0f} MiB | {now_size / bare_size:.1f}x | {now_count} |",
            "",
            f"Production install vs before: {now_size / old_size:.2f}x the size, "
            f"{now_count} vs {old_count} distributions.",
            "",
            "| gunicorn worker (`rolegate-server web --workers 2`) | VmRSS per worker | vs boot |",
            "|---|---:|---:|",
            f"| after boot and one login page (anchor) | "
            f"{', '.join(f'{kb / 1024:.0f} MiB' for kb in booted)} | 1.00x |",
            f"| after {args.requests} requests in {seconds:.1f} s, 8 client threads, "
            f"{errors} 5xx | {', '.join(f'{kb / 1024:.0f} MiB' for kb in loaded)} | "
            f"{sum(loaded) / sum(booted):.2f}x |",
            "",
            "The load mixes the login page, its hashed CSS/JS (whitenoise), `/readyz`, "
            "`/metrics` and refused API sign-ins (audited, throttled); it issues no credentials.",
        ]
    )
    print(text)
    if not args.no_record:
        existing = RESULTS.read_text()
        if HEADING in existing:
            head, _, rest = existing.partition(HEADING)
            tail = rest.split("\n## ", 1)
            existing = (
                head + HEADING + "\n\n" + text + "\n" + ("\n## " + tail[1] if len(tail) > 1 else "")
            )
            RESULTS.write_text(existing.rstrip("\n") + "\n")
        else:
            RESULTS.write_text(existing.rstrip("\n") + f"\n\n{HEADING}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
