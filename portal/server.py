"""`rolegate-server`: the one command an installed Rolegate runs.

    rolegate-server web [--bind HOST:PORT] [--workers N]   gunicorn serving portal.wsgi
    rolegate-server worker [celery worker options]          the Celery worker
    rolegate-server beat [celery beat options]              the scheduler (any number may run)
    rolegate-server COMMAND ...                             any management command (migrate, ...)

Nothing here needs the source tree: templates and static files ship inside the packages.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from gunicorn.app.base import BaseApplication

SETTINGS_MODULE = "portal.settings"
# Prometheus' multiprocess mode: each process writes its samples under this directory and
# /metrics adds them up, so a counter moved by one gunicorn worker (or Celery child) is not lost.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A server listens on every interface by default (a container's); TLS goes in front of it.
DEFAULT_BIND = "0.0.0.0:8000"
# gunicorn's worker heartbeat files: in memory, as gunicorn documents for containers.
SHARED_MEMORY = "/dev/shm"  # noqa: S108 # nosec B108

USAGE = """usage: rolegate-server web [--bind HOST:PORT] [--workers N]
       rolegate-server worker [CELERY WORKER OPTIONS]
       rolegate-server beat [CELERY BEAT OPTIONS]
       rolegate-server COMMAND [OPTIONS]   (migrate, collectstatic, check --deploy, create -f,
                                            get, rm, export_ca, sync_profiles, help, ...)
"""


def _environ_int(name: str, default: int, minimum: int = 1) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"rolegate-server: {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise SystemExit(f"rolegate-server: {name} must be at least {minimum}, got {number}")
    return number


def prepare_multiprocess_metrics(role: str) -> str:
    """Give this process tree a fresh metrics directory unless the operator chose one."""
    directory = os.environ.get(MULTIPROC_ENV, "").strip()
    if directory:
        os.makedirs(directory, exist_ok=True)
        # Samples of a previous run of the same role would otherwise be added to this one's.
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))
    else:
        directory = tempfile.mkdtemp(prefix=f"rolegate-{role}-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    os.environ[MULTIPROC_ENV] = directory
    return directory


def web_options(argv: Sequence[str]) -> dict[str, Any]:
    """gunicorn settings from the command line, then the environment, then the defaults."""
    import argparse

    parser = argparse.ArgumentParser(prog="rolegate-server web")
    parser.add_argument(
        "--bind",
        default=os.environ.get("ROLEGATE_WEB_BIND", DEFAULT_BIND),
        help="HOST:PORT to listen on (ROLEGATE_WEB_BIND, default 0.0.0.0:8000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=_environ_int("ROLEGATE_WEB_WORKERS", _environ_int("WEB_CONCURRENCY", 2)),
        help="worker processes (ROLEGATE_WEB_WORKERS or WEB_CONCURRENCY, default 2)",
    )
    args = parser.parse_args(list(argv))
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return {
        "bind": [args.bind],
        "workers": args.workers,
        "threads": _environ_int("ROLEGATE_WEB_THREADS", 1),
        "timeout": _environ_int("ROLEGATE_WEB_TIMEOUT", 30),
        "graceful_timeout": _environ_int("ROLEGATE_WEB_GRACEFUL_TIMEOUT", 30),
        "keepalive": _environ_int("ROLEGATE_WEB_KEEPALIVE", 5),
        "max_requests": _environ_int("ROLEGATE_WEB_MAX_REQUESTS", 0, minimum=0),
        "max_requests_jitter": _environ_int("ROLEGATE_WEB_MAX_REQUESTS_JITTER", 0, minimum=0),
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "accesslog": "-",
        "errorlog": "-",
        # The access line names the request id, which is also in the request's JSON log lines
        # and in its audit rows, so the three can be joined.
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s',
        "child_exit": _child_exit,
        "control_socket_disable": True,
        "worker_tmp_dir": SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None,
    }


def _child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges; its counters stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class WebApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from code, loading Rolegate's WSGI application."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)
        from portal.logs import gunicorn_logconfig

        logconfig = gunicorn_logconfig()
        if logconfig is not None:
            self.cfg.set("logconfig_dict", logconfig)

    def load(self) -> Callable[..., Any]:
        from portal.wsgi import application

        return application


def run_web(argv: Sequence[str]) -> int:
    """Serve the portal with gunicorn."""
    options = web_options(argv)
    prepare_multiprocess_metrics("web")
    # Importing settings before forking fails fast on a bad configuration (every worker would).
    import django

    django.setup()
    WebApplication(options).run()
    return 0


def run_celery(role: str, argv: Sequence[str]) -> int:
    """Run `celery -A portal worker|beat` with Rolegate's defaults."""
    if role == "worker":
        prepare_multiprocess_metrics("worker")
    from portal.celery import app

    arguments = [role, "--loglevel", os.environ.get("ROLEGATE_LOG_LEVEL", "INFO"), *argv]
    app.start(argv=arguments)
    return 0


def run_management(argv: Sequence[str]) -> int:
    """Any Django management command, exactly as `manage.py` runs it."""
    from django.core.management import execute_from_command_line

    execute_from_command_line(["rolegate-server", *argv])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rolegate-server` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in ("web", "worker"):
        # Only web and worker are scraped; a one-off command (migrate, beat, shell) keeps its
        # samples in memory instead of writing into a directory that may not exist here.
        os.environ.pop(MULTIPROC_ENV, None)
    if command == "web":
        return run_web(rest)
    if command in ("worker", "beat"):
        return run_celery(command, rest)
    return run_management(args)


if __name__ == "__main__":
    raise SystemExit(main())
