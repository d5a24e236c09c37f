"""Load test: gunicorn + the sandbox + PostgreSQL + Redis under the locust scenario, recorded.

    .venv/bin/python bench/run_load.py [--users 50] [--duration 60] [--no-record]

What it does, all on 127.0.0.1 and stopped by PID at the end:

1. a fresh PostgreSQL database (`--database-url`, dropped and re-created) and `migrate`;
2. `python -m sandbox --seed guide` on a free port (the guide's role and profile);
3. the guide's steps 1-3 as `manage.py demo` does them (the wizard's enrollment script, the
   integration, the role, the first profile sync), a `--catalog`-app organization beside it
   (bench/catalog.py: 100 teams, 50 team roles, as bench_resources.py measures), plus
   `--people` users holding the guide's role and the 50 team roles, each with a web session
   and an API token;
4. `gunicorn portal.wsgi -w 4` with ROLEGATE_ENV=dev and DEBUG off;
5. `locust --headless` for `--duration` seconds (it stops by itself), CSV stats in a temp dir;
6. p50/p95/p99 and errors per request type, and the audit check: successful
   `aws_credentials.issued` rows written during the run == issuances locust saw succeed;
7. the "## load" section of bench/RESULTS.md rewritten (other sections kept).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import platform
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "RESULTS.md"
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
ISSUANCE_NAMES = ("POST /apps/[app]/launch", "POST /api/v1/apps/[app]/credentials")
P99_GOAL_MS = 500


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    """Poll until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def loopback_only(url: str, what: str) -> None:
    """Refuse anything but a loopback target: this script generates load."""
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"{what} must be on 127.0.0.1, not {host!r}")


class Processes:
    """Child processes started in their own sessions, stopped by PID (TERM, then KILL)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start `argv` with its output in logs/NAME.log."""
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append((name, process))
        return process

    def stop_all(self) -> None:
        """SIGTERM each process group this script started, SIGKILL what is left after 15 s."""
        for _, process in reversed(self.running):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for _, process in reversed(self.running):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def recreate_database(url: str) -> None:
    """Drop and create the database named in `url` (connecting to `postgres` to do it)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise SystemExit(f"refusing odd database name {name!r}")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


@dataclass
class Scenario:
    """What the set-up produced, for locust and for the audit check."""

    app: str
    role_arn: str
    people_file: Path
    audit_mark: int
    visible: int  # apps the first user's Resources page can list


def set_up(
    env: dict[str, str],
    sandbox_url: str,
    credentials_file: Path,
    people: int,
    work: Path,
    catalog_size: int,
) -> Scenario:
    """The guide's steps 1-3 (as `manage.py demo` does them), a `catalog_size`-app catalog
    and `people` signed-in users."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from apps.accounts.models import User
    from apps.api.services import token_create
    from apps.core.registry import apply_documents
    from apps.demo import demo
    from apps.resources.models import AwsApp
    from apps.resources.queries import app_listing

    sys.path.insert(0, str(ROOT))
    from bench import catalog

    call_command("migrate", verbosity=0)
    enrollment = demo.enroll_sandbox(sandbox_url=sandbox_url, credentials_file=credentials_file)
    profile_arn = demo.guide_profile_arn(sandbox_url=sandbox_url, credentials_file=credentials_file)
    apply_documents(demo.guide_documents(enrollment, profile_arn), actor=None, force=True)
    call_command("sync_profiles", demo.DEMO_INTEGRATION, "--quiet")
    app = AwsApp.objects.get(profile_arn=profile_arn)
    team_roles: list[str] = []
    if catalog_size:
        catalog.add_apps(catalog.bench_integration(), 0, catalog_size)
        team_roles = catalog.team_roles()

    identities = []
    visible = 0
    for index in range(people):
        user = User.objects.create_user(username=f"load-{index:02d}", password=None)
        user.roles = [demo.DEMO_ROLE, *team_roles]
        user.save(update_fields=["roles"])
        if index == 0:
            visible = len(app_listing(user).rows)
        client = Client()
        client.force_login(user)
        client.get("/")  # sets the CSRF cookie the Resources page's forms use
        identities.append(
            {
                "session": client.cookies["sessionid"].value,
                "csrf": client.cookies["csrftoken"].value,
                "token": token_create(actor=user, user=user, method="password").plaintext,
            }
        )
    people_file = work / "people.json"
    fd = os.open(people_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(identities, handle)
    mark = last_audit_id()
    return Scenario(
        app=app.name,
        role_arn=demo.GUIDE_ROLE_ARN,
        people_file=people_file,
        audit_mark=mark,
        visible=visible,
    )


def last_audit_id() -> int:
    """The newest audit row's id: issuances after it belong to the measured run."""
    from django.db import close_old_connections

    from apps.audit.models import AuditEvent

    close_old_connections()
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def warm_up(web_port: int, scenario: Scenario, rounds: int) -> None:
    """A few sequential requests of each kind, so every gunicorn worker has imported its views,
    opened its database connection and signed once before the clock starts."""
    person = json.loads(scenario.people_file.read_text())[0]
    cookies = f"sessionid={person['session']}; csrftoken={person['csrf']}"
    calls = [
        ("GET", "/", None, {"Cookie": cookies}, 200),
        (
            "POST",
            f"/apps/{scenario.app}/launch",
            urllib.parse.urlencode({"role": scenario.role_arn}),
            {
                "Cookie": cookies,
                "X-CSRFToken": person["csrf"],
                "Content-Type": "application/x-www-form-urlencoded",
            },
            302,
        ),
        (
            "POST",
            f"/api/v1/apps/{scenario.app}/credentials",
            json.dumps({"role_arn": scenario.role_arn}),
            {"Authorization": f"Bearer {person['token']}", "Content-Type": "application/json"},
            200,
        ),
    ]
    for _ in range(rounds):
        for method, path, body, headers, expected in calls:
            conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=30)
            try:
                conn.request(method, path, body=body, headers=headers)
                status = conn.getresponse().status
            finally:
                conn.close()
            if status != expected:
                raise RuntimeError(f"warm-up {method} {path}: HTTP {status}, not {expected}")


def audited_issuances(since_id: int) -> dict[str, int]:
    """Successful and other `aws_credentials.issued` rows written after `since_id`."""
    from django.db import close_old_connections

    from apps.audit.models import AuditEvent

    close_old_connections()
    rows = AuditEvent.objects.filter(id__gt=since_id, event_type="aws_credentials.issued")
    return {
        "success": rows.filter(outcome=AuditEvent.Outcome.SUCCESS).count(),
        "other": rows.exclude(outcome=AuditEvent.Outcome.SUCCESS).count(),
    }


_ACCESS_LINE = re.compile(r'"POST (?P<path>/\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')


def served_by_gunicorn(access_log: Path, app: str, *, after: int) -> int:
    """Issuances the server answered with success (302 Launch, 200 credentials), from its log.

    Counted on the server side because a request in flight when locust stops is served and
    audited, but never reaches locust's statistics.
    """
    served = 0
    with access_log.open("rb") as handle:
        handle.seek(after)  # the warm-up's requests come before this offset
        text = handle.read().decode(errors="replace")
    for match in _ACCESS_LINE.finditer(text):
        path, status = match["path"], match["status"]
        if (path == f"/apps/{app}/launch" and status == "302") or (
            path == f"/api/v1/apps/{app}/credentials" and status == "200"
        ):
            served += 1
    return served


def read_stats(prefix: Path) -> list[dict[str, str]]:
    """Rows of locust's PREFIX_stats.csv."""
    with Path(f"{prefix}_stats.csv").open() as handle:
        return list(csv.DictReader(handle))


def read_failures(prefix: Path) -> list[dict[str, str]]:
    """Rows of locust's PREFIX_failures.csv (empty when nothing failed)."""
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))


def machine() -> str:
    """One line about where this ran (the numbers mean little elsewhere)."""
    load = os.getloadavg()
    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average before the run "
        f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def render(
    *,
    command: str,
    settings_line: str,
    stats: list[dict[str, str]],
    failures: list[dict[str, str]],
    audit: dict[str, int],
    served: int,
    locust_served: int,
    where: str,
) -> str:
    """The "## load" section of RESULTS.md."""
    lines = [
        "## load",
        "",
        f"Recorded {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/run_load.py` on {where}.",
        "",
        "```",
        command,
        "```",
        "",
        settings_line,
        "",
        "| request | count | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in stats:
        lines.append(
            f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | "
            f"{float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | {row['99%']} | "
            f"{float(row['Max Response Time']):.0f} |"
        )
    aggregated = next(row for row in stats if row["Name"] == "Aggregated")
    errors = int(aggregated["Failure Count"])
    p99 = float(aggregated["99%"])
    verdict = []
    verdict.append(f"0 errors: {'met' if errors == 0 else f'NOT met ({errors} errors)'}")
    verdict.append(
        f"p99 under {P99_GOAL_MS} ms: "
        + ("met" if p99 < P99_GOAL_MS else f"NOT met (aggregated p99 {p99:.0f} ms)")
    )
    equal = audit["success"] == served
    verdict.append(
        f"audit rows == issuances served: {'yes' if equal else 'NO'} "
        f"({audit['success']} successful `aws_credentials.issued` rows; {served} issuances "
        f"answered 302/200 in gunicorn's access log, {locust_served} of them completed inside "
        f"locust's window; {audit['other']} refusal/error rows)"
    )
    lines += ["", "Goals: " + "; ".join(verdict) + "."]
    after = os.getloadavg()
    lines += [
        "",
        f"Load average after the run: {after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f}. What limits "
        "it: CPU. Everything shares the 2 cores: 4 gunicorn workers, the sandbox (one Python "
        "process verifying every CreateSession signature and running moto's STS), locust's 50 "
        "users, PostgreSQL, and whatever else runs on the machine. At about 40 requests/s the "
        "cores are saturated, so p95/p99 are mostly "
        "queueing; p50 is the work itself. The tail moves by a few hundred ms between runs "
        "with the machine's background load.",
    ]
    if failures:
        lines += ["", "Failures:", ""]
        for row in failures[:10]:
            lines.append(f"- {row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error']}")
    return "\n".join(lines) + "\n"


def record(section: str) -> None:
    """Replace the "## load" section of RESULTS.md (or append it), keeping the others."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## load\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A private temp dir (people file with tokens, logs, CSVs), removed at the end."""
    with tempfile.TemporaryDirectory(prefix="rolegate-load-") as name:
        yield Path(name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50, help="locust users (default 50)")
    parser.add_argument("--spawn-rate", type=int, default=10, help="users started per second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--people", type=int, default=50, help="portal users to spread over")
    parser.add_argument(
        "--catalog",
        type=int,
        default=10_000,
        help="synthetic apps beside the guide's (default 10,000; 0 for the guide's app alone)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "ROLEGATE_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rg_load"
        ),
        help="PostgreSQL database to DROP and re-create (default rg_load)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ROLEGATE_LOAD_REDIS_URL", "redis://127.0.0.1:6379/13"),
        help="Redis for the cache (keys prefixed rolegate-load)",
    )
    parser.add_argument("--no-record", action="store_true", help="print, do not edit RESULTS.md")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 500 or not 1 <= args.duration <= 1800:
        parser.error("--users must be 1-500 and --duration 1-1800 seconds")
    if not 0 <= args.catalog <= 200_000:
        parser.error("--catalog must be 0-200,000 apps")
    loopback_only(args.database_url, "--database-url")
    loopback_only(args.redis_url, "--redis-url")
    return args


def main(argv: list[str] | None = None) -> int:
    """Set up, load, measure, record; always stop what was started."""
    args = parse_args(argv)
    command = "ROLEGATE_ENV=dev .venv/bin/python bench/run_load.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    with workdir() as work:
        logs = work / "logs"
        logs.mkdir()
        processes = Processes(logs)
        try:
            return run(args, work, processes, command.strip())
        finally:
            processes.stop_all()


def run(args: argparse.Namespace, work: Path, processes: Processes, command: str) -> int:
    """The body of `main` (see the module docstring)."""
    where = machine()
    sandbox_port, web_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    web_url = f"http://127.0.0.1:{web_port}"
    credentials_file = work / "sandbox-credentials"
    env = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_ROLESANYWHERE", "AWS_ENDPOINT_URL_STS"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "ROLEGATE_ENV": "dev",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ROLEGATE_VAR_DIR": str(work / "var"),
            "ROLEGATE_CA_ENCRYPTION_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "ROLEGATE_CACHE_PREFIX": "rolegate-load",
            "CELERY_BROKER_URL": args.redis_url,
            "ROLEGATE_CELERY_EAGER": "false",
            "ROLEGATE_PROFILE_SYNC_RATE": "0",
            "ROLEGATE_PUBLIC_URL": web_url,
            "AWS_ENDPOINT_URL": sandbox_url,
            "ROLEGATE_AWS_SIGNIN_URL": sandbox_url,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPATH": str(ROOT),
        }
    )
    print(f"database {args.database_url} (re-created)", flush=True)
    recreate_database(args.database_url)
    processes.start(
        "sandbox",
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(sandbox_port),
            "--seed",
            "guide",
            "--credentials-file",
            str(credentials_file),
        ],
        env,
    )
    wait_for_port(sandbox_port)
    deadline = time.monotonic() + 30
    while not credentials_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    print(f"sandbox on {sandbox_url}; setting up the guide's scenario", flush=True)
    scenario = set_up(env, sandbox_url, credentials_file, args.people, work, args.catalog)
    print(f"{args.catalog + 1} apps, {scenario.visible} visible to each user", flush=True)

    processes.start(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "portal.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{web_port}",
            "--access-logfile",
            "-",
            "--log-level",
            "warning",
        ],
        env,
    )
    wait_for_port(web_port)
    warm_up(web_port, scenario, rounds=3 * args.workers)
    scenario.audit_mark = last_audit_id()
    access_log = work / "logs" / "gunicorn.log"
    access_mark = access_log.stat().st_size
    print(f"gunicorn -w {args.workers} on {web_url}; locust for {args.duration}s", flush=True)

    prefix = work / "locust"
    locust_env = dict(env)
    locust_env.update(
        {
            "ROLEGATE_LOAD_PEOPLE": str(scenario.people_file),
            "ROLEGATE_LOAD_APP": scenario.app,
            "ROLEGATE_LOAD_ROLE_ARN": scenario.role_arn,
            "ROLEGATE_LOAD_SIGNIN_URL": sandbox_url,
            "ROLEGATE_LOAD_MIN_ROWS": str(min(25, scenario.visible)),
        }
    )
    locust = processes.start(
        "locust",
        [
            str(BIN / "locust"),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            web_url,
            "-u",
            str(args.users),
            "-r",
            str(args.spawn_rate),
            "-t",
            f"{args.duration}s",
            "--stop-timeout",
            "10",
            "--csv",
            str(prefix),
            "--only-summary",
        ],
        locust_env,
    )
    try:
        locust.wait(timeout=args.duration + 120)
    except subprocess.TimeoutExpired:
        print("locust did not stop on time; stopping it", file=sys.stderr)
    stats = read_stats(prefix)
    failures = read_failures(prefix)
    # Requests still in flight when locust stopped may be audited without being counted.
    time.sleep(2)
    audit = audited_issuances(scenario.audit_mark)
    locust_served = sum(
        int(row["Request Count"]) - int(row["Failure Count"])
        for row in stats
        if row["Name"] in ISSUANCE_NAMES
    )
    served = served_by_gunicorn(access_log, scenario.app, after=access_mark)
    settings_line = (
        f"Set-up: {args.users} locust users (spawn {args.spawn_rate}/s) for {args.duration} s, "
        f"wait 0.5-1.5 s between tasks, mix 3:2:2:3 (Resources first page : search for the "
        "guide's app : Launch : CLI credentials); "
        f"a catalog of {args.catalog + 1:,} apps (the guide's and {args.catalog:,} from "
        f"bench/catalog.py over 100 teams), {scenario.visible:,} of them visible to each user, "
        "whose first page must list a full page of apps; "
        f"`gunicorn portal.wsgi -w {args.workers}` (sync workers, ROLEGATE_ENV=dev, DEBUG off); "
        f"`python -m sandbox --seed guide` (one process) as AWS; PostgreSQL and Redis on "
        f"localhost; {args.people} users holding the guide's role"
        f"{' and the 50 team roles' if args.catalog else ''}, signed in beforehand; "
        f"{3 * args.workers} sequential requests of each kind before the clock starts (warm-up, "
        "not counted)."
    )
    section = render(
        command=command,
        settings_line=settings_line,
        stats=stats,
        failures=failures,
        audit=audit,
        served=served,
        locust_served=locust_served,
        where=where,
    )
    print(section)
    if not args.no_record:
        record(section)
        print(f"recorded in {RESULTS.relative_to(ROOT)}")
    aggregated = next(row for row in stats if row["Name"] == "Aggregated")
    ok = int(aggregated["Failure Count"]) == 0 and audit["success"] == served
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
