"""The built wheel, installed in a fresh virtualenv, runs Rolegate in production mode.

No source tree on sys.path (the servers run from an empty directory with a clean environment),
the machine's PostgreSQL (a database of its own) and Redis, the sandbox as AWS. Set-up runs the
operator commands through `rolegate-server`: migrate, collectstatic (in deploy/install.sh),
export_ca, create -f, sync_profiles.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml

from apps.demo import demo
from apps.integrations.enrollment.policies import (
    sync_role_permissions_policy,
    sync_role_trust_policy,
)
from sandbox import moto_backend
from sandbox.seed import create_profile, create_trust_anchor, seed_guide
from sandbox.server import Sandbox
from tests.packaging.support import (
    PUBLIC_HOST,
    Answer,
    free_port,
    http,
    production_environ,
    stop,
    wait_for_http,
)

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "wheel-test-metrics-token-0123456789"
ALICE_PASSWORD = "wheel test password for alice"
# What a TLS-terminating load balancer in front of gunicorn sends.
BROWSER = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}


@dataclass
class Deployment:
    """A migrated database, a configured environment and a running `rolegate-server web`."""

    venv: Path
    environ: dict[str, str]
    workdir: Path
    log: Path
    base: str = ""
    process: Any = None

    def server(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `rolegate-server ARGS` from the installed venv."""
        result = subprocess.run(
            [str(self.venv / "bin" / "rolegate-server"), *args],
            cwd=self.workdir,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def get(self, path: str, **headers: str) -> Answer:
        return http(self.base + path, headers={**BROWSER, **headers})

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines


def _database(name: str) -> tuple[str, str]:
    """(admin URL, URL of a fresh database called `name`)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rolegate")
    parts = urlsplit(base)
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin, parts._replace(path=f"/{name}").geturl()


def _start_web(
    venv: Path, environ: dict[str, str], workdir: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "rolegate-server"),
                "web",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            cwd=workdir,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/healthz", process)
    return process, base


def _enroll(aws_sandbox: Sandbox, ca_pem: str) -> list[dict[str, Any]]:
    """What the enrollment wizard's script does, done in the sandbox; return the documents."""
    seeded = seed_guide(aws_sandbox)
    anchor_arn = create_trust_anchor(aws_sandbox, ca_pem, name="RolegateWheelCA")
    sync_role_arn = moto_backend.create_role(
        "RolegateWheelSync",
        sync_role_trust_policy(anchor_arn),
        inline_policies={"RolegateSync": sync_role_permissions_policy()},
    )
    sync_profile_arn = create_profile(
        aws_sandbox, "RolegateWheelSync", [sync_role_arn], accept_role_session_name=True
    )
    return demo.guide_documents(
        demo.EnrollmentResult(anchor_arn, sync_profile_arn, sync_role_arn),
        seeded["profile_arn"],
    )


@pytest.fixture(scope="module")
def deployment(
    wheel_venv: Path, aws_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    aws_sandbox.reset()
    workdir = tmp_path_factory.mktemp("deployment")
    database = f"rg_wheel_{os.getpid()}"
    admin_url, database_url = _database(database)
    (workdir / "database_url").write_text(database_url + "\n")
    environ = production_environ(
        workdir / "secrets",
        DATABASE_URL_FILE=str(workdir / "database_url"),
        CELERY_BROKER_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ROLEGATE_CACHE_PREFIX=f"rolegate-wheel-{os.getpid()}",
        ROLEGATE_METRICS_TOKEN=METRICS_TOKEN,
        ROLEGATE_LOG_FORMAT="json",
        ROLEGATE_HSTS_SECONDS="0",
        **demo.aws_environment(aws_sandbox.url),
    )
    log = workdir / "web.log"
    deployment = Deployment(wheel_venv, environ, workdir, log)
    deployment.server("migrate", "--noinput", "--verbosity", "0")
    ca_pem = deployment.server("export_ca", "--type", "awsra").stdout
    assert "BEGIN CERTIFICATE" in ca_pem
    resources = workdir / "resources.yaml"
    resources.write_text(yaml.safe_dump_all(_enroll(aws_sandbox, ca_pem)))
    deployment.server("create", "-f", str(resources))
    synced = deployment.server("sync_profiles", demo.DEMO_INTEGRATION)
    assert "SUCCESS" in synced.stdout + synced.stderr
    deployment.server(
        "shell",
        "-c",
        "from apps.accounts.models import User; u = User.objects.get(username='alice'); "
        f"u.set_password({ALICE_PASSWORD!r}); u.save()",
    )
    process, base = _start_web(wheel_venv, environ, workdir, log)
    deployment.process, deployment.base = process, base
    try:
        yield deployment
    finally:
        stop(process, quick=True)
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_the_wheel_ships_templates_and_static_but_no_tests_or_demo_state(
    built_wheel: Path,
) -> None:
    names = zipfile.ZipFile(built_wheel).namelist()
    assert "portal/templates/base.html" in names
    assert "portal/static/css/app.css" in names
    assert any(re.fullmatch(r"portal/static/vendor/htmx/htmx-[\d.]+\.min\.js", n) for n in names)
    assert "apps/accounts/templates/accounts/login.html" in names
    assert "apps/integrations/enrollment/enroll.sh.tmpl" in names
    assert any(n.startswith("apps/audit/migrations/0001") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "bench/", "var/", "deploy/"))]
    assert not [n for n in names if n.endswith((".sqlite3", "secret_key", "demo-logins"))]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line
        for line in zipfile.ZipFile(built_wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    production = [line for line in requires if "extra ==" not in line]
    assert not [line for line in production if re.search(r"\b(moto|honcho|awscli)\b", line)]
    assert [line for line in requires if "moto" in line and 'extra == "sandbox"' in line]
    entry_points = (
        zipfile.ZipFile(built_wheel).read(metadata.replace("METADATA", "entry_points.txt")).decode()
    )
    assert "rolegate-server = portal.server:main" in entry_points


def test_the_install_has_no_source_tree_and_no_demo_dependencies(wheel_venv: Path) -> None:
    result = subprocess.run(
        [
            str(wheel_venv / "bin" / "python"),
            "-c",
            "import importlib.util, portal, apps; "
            "print(portal.__file__); print(apps.__path__[0]); "
            "print([m for m in ('moto', 'honcho', 'pytest') if importlib.util.find_spec(m)])",
        ],
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    portal_file, apps_path, demo_modules = result.stdout.splitlines()
    assert portal_file.startswith(str(wheel_venv)) and "site-packages" in portal_file
    assert apps_path.startswith(str(wheel_venv))
    assert demo_modules == "[]"
    # collectstatic (deploy/install.sh) wrote the hashed manifest into the venv's prefix.
    manifest = wheel_venv / "share" / "rolegate" / "static" / "staticfiles.json"
    collected = json.loads(manifest.read_text())["paths"]
    assert "css/app.css" in collected and "js/app.js" in collected
    assert any(path.startswith("vendor/htmx/htmx-") for path in collected)


def test_login_page_and_every_stylesheet_and_script_it_links(deployment: Deployment) -> None:
    page = deployment.get("/accounts/login/")
    assert page.status == 200, page.body[:500]
    html = page.body.decode()
    assets = re.findall(r'<link[^>]+href="(/static/[^"]+)"', html) + re.findall(
        r'<script[^>]+src="(/static/[^"]+)"', html
    )
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
    for asset in assets:
        # Hashed names (app.0123abcd.css) from the manifest, cached for a long time.
        assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", asset), asset
        answer = deployment.get(asset, **{"Accept-Encoding": "gzip"})
        assert answer.status == 200, asset
        assert "max-age=315360000" in answer.header("Cache-Control"), asset
        assert answer.header("Content-Encoding") == "gzip", asset


def test_probes_answer_any_host_and_other_paths_keep_host_checking(
    deployment: Deployment,
) -> None:
    pod = {"Host": "10.1.2.3:8000"}  # a kubelet probing the pod IP, over plain HTTP
    live = http(deployment.base + "/healthz", headers=pod)
    assert live.status == 200 and json.loads(live.body) == {"status": "ok"}
    ready = http(deployment.base + "/readyz", headers=pod)
    assert ready.status == 200, ready.body
    body = json.loads(ready.body)
    assert body["status"] == "ready" and body["failed"] == []
    assert set(body["checks"]) == {"database", "migrations", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    # Everything else still refuses an unknown Host.
    assert http(deployment.base + "/accounts/login/", headers={**BROWSER, **pod}).status == 400


def test_readyz_names_the_database_when_it_is_unreachable(
    deployment: Deployment, tmp_path: Path
) -> None:
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/rolegate"
    (tmp_path / "database_url").write_text(dead)
    environ = {**deployment.environ, "DATABASE_URL_FILE": str(tmp_path / "database_url")}
    process, base = _start_web(deployment.venv, environ, tmp_path, tmp_path / "web.log")
    try:
        answer = http(base + "/readyz")
        body = json.loads(answer.body)
        assert answer.status == 503
        assert body["status"] == "not ready"
        assert "database" in body["failed"]
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["cache"]["ok"] is True and body["checks"]["broker"]["ok"] is True
        assert http(base + "/healthz").status == 200  # liveness does not depend on it
    finally:
        stop(process, quick=True)


def _issued(metrics_text: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("rolegate_credential_issuances_total{") and 'outcome="issued"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_an_issuance_and_its_log_lines_carry_the_request_id(
    deployment: Deployment,
) -> None:
    assert deployment.get("/metrics").status == 401
    assert deployment.get("/metrics", Authorization="Bearer wrong").status == 401
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    before = deployment.get("/metrics", **bearer)
    assert before.status == 200
    assert 'rolegate_apps{integration="aws-sandbox"} 1.0' in before.body.decode()
    assert "rolegate_ca_certificate_expiry_timestamp_seconds{" in before.body.decode()

    refused = http(
        deployment.base + "/api/v1/auth/password",
        method="POST",
        headers={**BROWSER, "Content-Type": "application/json"},
        body=json.dumps({"username": "alice", "password": "not her password"}).encode(),
    )
    assert refused.status == 401
    login = http(
        deployment.base + "/api/v1/auth/password",
        method="POST",
        headers={**BROWSER, "Content-Type": "application/json"},
        body=json.dumps({"username": "alice", "password": ALICE_PASSWORD}).encode(),
    )
    assert login.status == 200, login.body
    token = json.loads(login.body)["token"]
    listing = json.loads(deployment.get("/api/v1/apps", Authorization=f"Bearer {token}").body)
    apps = listing["items"] if isinstance(listing, dict) else listing
    (app,) = apps
    issued = http(
        f"{deployment.base}/api/v1/apps/{app['name']}/credentials",
        method="POST",
        headers={**BROWSER, "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps({"role_arn": demo.GUIDE_ROLE_ARN}).encode(),
    )
    assert issued.status == 200, issued.body
    assert json.loads(issued.body)["AccessKeyId"]

    after = deployment.get("/metrics", **bearer).body.decode()
    assert _issued(after) == _issued(before.body.decode()) + 1
    assert 'rolegate_credential_issuances_total{outcome="issued",purpose="cli"}' in after
    assert "rolegate_credential_issuance_duration_seconds_count" in after
    assert 'rolegate_login_failures_total{reason="bad credentials"} 1.0' in after

    request_id = issued.header("X-Request-ID")
    assert request_id
    lines = deployment.log_lines()
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert any(
        line["logger"] == "awsra.client" and "CreateSession succeeded" in line["message"]
        for line in mine
    ), lines[-20:]
    assert all(line.get("user") == "alice" for line in mine)
    # gunicorn's access line names the same request id.
    assert any(f"request_id={request_id}" in line["message"] for line in lines)
    # No secret reached the log.
    secret = json.loads(issued.body)["SecretAccessKey"]
    text = deployment.log.read_text()
    assert secret not in text and token not in text and METRICS_TOKEN not in text


def test_gunicorn_seals_an_issuance_after_sending_its_response(deployment: Deployment) -> None:
    """The request itself seals its audit events (after its response, when gunicorn closes
    it): no beat or sweep runs here, and `audit_verify` passes after."""
    login = http(
        deployment.base + "/api/v1/auth/password",
        method="POST",
        headers={**BROWSER, "Content-Type": "application/json"},
        body=json.dumps({"username": "alice", "password": ALICE_PASSWORD}).encode(),
    )
    assert login.status == 200, login.body
    token = json.loads(login.body)["token"]
    issued = http(
        f"{deployment.base}/api/v1/apps/{demo.GUIDE_APP}/credentials",
        method="POST",
        headers={**BROWSER, "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps({"role_arn": demo.GUIDE_ROLE_ARN}).encode(),
    )
    assert issued.status == 200, issued.body
    request_id = issued.header("X-Request-ID")
    database_url = (deployment.workdir / "database_url").read_text().strip()
    sealed: list[tuple[str, bool]] = []
    with psycopg.connect(database_url, autocommit=True) as connection:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sealed = connection.execute(
                "SELECT e.event_type, l.id IS NOT NULL FROM audit_auditevent e "
                "LEFT JOIN audit_auditchainlink l ON l.event_id = e.id "
                "WHERE e.request_id = %s ORDER BY e.id",
                (request_id,),
            ).fetchall()
            if sealed and all(link for _, link in sealed):
                break
            time.sleep(0.05)
    assert [event for event, _ in sealed] == [
        "aws_credentials.requested",
        "aws_credentials.issued",
    ], sealed
    assert all(link for _, link in sealed), sealed
    verified = deployment.server("audit_verify", "--no-seal", "--no-checkpoint")
    assert "audit chain intact" in verified.stdout, verified.stdout + verified.stderr
