"""Probes, the metrics page, log context, and secrets read from files (in process)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from apps.core.logcontext import LogContextMiddleware, connect_celery_signals
from apps.core.middleware import RequestContextMiddleware
from portal.env import env_secret
from portal.logs import ContextFilter, JsonFormatter
from tests.packaging.support import free_port

POD_HOST = "10.1.2.3:8000"


@pytest.fixture
def json_records() -> Iterator[io.StringIO]:
    """Every log line, formatted exactly as ROLEGATE_LOG_FORMAT=json formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


# --- probes ----------------------------------------------------------------------------------


def test_healthz_answers_a_pod_ip_host_that_other_pages_refuse(client: Any, db: Any) -> None:
    answer = client.get("/healthz", HTTP_HOST=POD_HOST)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert answer["Cache-Control"] == "no-store"
    assert client.get("/accounts/login/", HTTP_HOST=POD_HOST).status_code == 400


def test_readyz_lists_every_check(client: Any, db: Any) -> None:
    answer = client.get("/readyz", HTTP_HOST=POD_HOST)
    body = answer.json()
    assert answer.status_code == 200, body
    assert body == {
        "status": "ready",
        "checks": {name: {"ok": True} for name in ("database", "migrations", "cache", "broker")},
        "failed": [],
    }


def test_readyz_is_503_naming_a_dead_broker_and_cache(client: Any, db: Any, settings: Any) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    answer = client.get("/readyz")
    body = answer.json()
    assert answer.status_code == 503
    assert body["status"] == "not ready"
    assert body["failed"] == ["cache", "broker"]
    assert body["checks"]["database"] == {"ok": True}
    assert "ConnectionError" in body["checks"]["broker"]["error"]
    assert dead not in json.dumps(body)  # URLs (which may hold passwords) are never echoed


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token(client: Any, db: Any, settings: Any) -> None:
    settings.ROLEGATE_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_bearer_token(client: Any, db: Any, settings: Any) -> None:
    settings.ROLEGATE_METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-metrics-token").status_code == 401
    )
    answer = client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token", HTTP_HOST=POD_HOST
    )
    assert answer.status_code == 200
    text = answer.content.decode()
    for name in (
        "rolegate_access_requests_pending 0.0",
        "# TYPE rolegate_credential_issuances_total counter",
        "# TYPE rolegate_credential_issuance_duration_seconds histogram",
        "# TYPE rolegate_create_session_errors_total counter",
        "# TYPE rolegate_sync_runs_total counter",
        "# TYPE rolegate_audit_write_failures_total counter",
        "# TYPE rolegate_login_throttles_total counter",
        "# TYPE rolegate_apps gauge",
        "# TYPE rolegate_ca_certificate_expiry_timestamp_seconds gauge",
    ):
        assert name in text, name


def _sample(client: Any, prefix: str) -> float:
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-for-login").content.decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_refused_sign_ins_are_counted_once_committed(
    client: Any, make_user: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ROLEGATE_METRICS_TOKEN = "t0ken-for-login"
    make_user("carol")
    failures = 'rolegate_login_failures_total{reason="bad credentials"}'
    before = _sample(client, failures)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/accounts/login/", {"username": "carol", "password": "nope"})
    assert answer.status_code == 401
    assert _sample(client, failures) == before + 1


# --- logs ------------------------------------------------------------------------------------


def test_log_lines_written_in_a_request_carry_its_id_and_user(
    json_records: io.StringIO, make_user: Any
) -> None:
    user = make_user("dora")

    def view(request: HttpRequest) -> HttpResponse:
        request._cached_user = user  # type: ignore[attr-defined] # what auth does on first use
        logging.getLogger("apps.example").info("serving %s", request.path)
        return HttpResponse("ok")

    stack = RequestContextMiddleware(LogContextMiddleware(view))
    response = stack(RequestFactory().get("/somewhere", HTTP_X_REQUEST_ID="req-0123456789"))
    logging.getLogger("apps.example").info("after the request")
    first, after = _lines(json_records)[-2:]
    assert response["X-Request-ID"] == "req-0123456789"
    assert first["message"] == "serving /somewhere"
    assert first["request_id"] == "req-0123456789" and first["user"] == "dora"
    assert first["level"] == "INFO" and first["logger"] == "apps.example" and first["time"]
    assert "request_id" not in after and "user" not in after


@pytest.mark.django_db
def test_task_log_lines_carry_the_task_id_and_the_integration(json_records: io.StringIO) -> None:
    from apps.integrations.tasks import sync_integration
    from tests.integrations.test_status_pages import make_integration

    connect_celery_signals()
    integration = make_integration("aws-logged", sync_enabled=False)
    result = sync_integration.apply(args=(integration.pk,), task_id="task-0123456789")
    assert result.get()["status"] == "NOT_RUN"
    (line,) = [entry for entry in _lines(json_records) if "not run" in entry["message"]]
    assert line["task_id"] == "task-0123456789"
    assert line["task_name"] == "apps.integrations.tasks.sync_integration"
    assert line["integration"] == "aws-logged"


def test_json_format_is_chosen_by_the_environment(tmp_path: Path) -> None:
    script = (
        "import logging, django; django.setup(); "
        "logging.getLogger('apps.check').warning('hello %s', 'json')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "ROLEGATE_ENV": "test",
            "ROLEGATE_VAR_DIR": str(tmp_path),
            "ROLEGATE_LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    (line,) = [json.loads(raw) for raw in result.stderr.splitlines() if raw.startswith("{")]
    assert line["message"] == "hello json" and line["level"] == "WARNING"
    bad = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "ROLEGATE_ENV": "test",
            "ROLEGATE_VAR_DIR": str(tmp_path),
            "ROLEGATE_LOG_FORMAT": "xml",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0
    assert "ROLEGATE_LOG_FORMAT must be one of plain, json" in bad.stderr


# --- secrets from files ----------------------------------------------------------------------


def test_a_secret_is_read_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    assert env_secret("SECRET_KEY", "d", environ={"SECRET_KEY_FILE": str(secret)}) == (
        "from-a-file"
    )
    assert env_secret("SECRET_KEY", "d", environ={"SECRET_KEY": "direct"}) == "direct"
    assert env_secret("SECRET_KEY", "d", environ={}) == "d"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SECRET_KEY": "x", "SECRET_KEY_FILE": "/etc/hostname"}, "not both"),
        ({"SECRET_KEY_FILE": "/nonexistent/secret"}, "cannot be read"),
    ],
)
def test_bad_secret_files_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        env_secret("SECRET_KEY", "", environ=environ)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="which is empty"):
        env_secret("DATABASE_URL", "", environ={"DATABASE_URL_FILE": str(empty)})


@pytest.mark.django_db
def test_a_failed_audit_write_is_counted() -> None:
    from django.db import DatabaseError, connection, transaction
    from prometheus_client import REGISTRY

    from apps.audit.services import audit_record

    def failures() -> float:
        return REGISTRY.get_sample_value("rolegate_audit_write_failures_total") or 0.0

    before = failures()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION operations_refuse_audit() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit storage unavailable (test trigger)'; END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER operations_refuse_audit BEFORE INSERT ON audit_auditevent
            FOR EACH ROW EXECUTE FUNCTION operations_refuse_audit();
            """
        )
    with pytest.raises(DatabaseError), transaction.atomic():
        audit_record(event_type="test.refused", actor=None)
    assert failures() == before + 1
