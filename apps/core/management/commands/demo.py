"""``manage.py demo``: the embedded demo on one machine, no AWS account needed."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from apps.accounts.models import User
from apps.core.demo import DemoLogins, Supervisor, python, wait_for_port


class Command(BaseCommand):
    help = "Run the demo: sandbox AWS, web server and Celery worker with beat. Ctrl-C stops it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=4566)

    def handle(self, *args: Any, **options: Any) -> None:
        port, sandbox_port = options["port"], options["sandbox_port"]
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        environ = dict(os.environ)
        environ.update(
            {
                "ROLEGATE_ENV": settings.ROLEGATE_ENV,
                "AWS_ENDPOINT_URL": sandbox_url,
                "ROLEGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        os.environ.update(environ)
        self.stdout.write("Preparing the database…")
        call_command("migrate", verbosity=0, interactive=False)
        logins = DemoLogins.load(settings.VAR_DIR / "demo-logins")
        admin_password, created = logins.password_for("admin")
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", admin_password)

        supervisor = Supervisor(environ, lambda line: self.stdout.write(f"[demo] {line}"))
        credentials_file = settings.VAR_DIR / "sandbox" / "credentials"
        supervisor.start(
            "sandbox",
            [
                python(),
                "-m",
                "sandbox",
                "--port",
                str(sandbox_port),
                "--seed",
                "guide",
                "--credentials-file",
                str(credentials_file),
            ],
        )
        if not wait_for_port("127.0.0.1", sandbox_port):
            supervisor.stop_all()
            self.stderr.write(f"The sandbox did not start on port {sandbox_port}.")
            raise SystemExit(1)
        supervisor.start(
            "web", [python(), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        )
        supervisor.start(
            "worker",
            [
                python(),
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-B",
                "--pool=threads",
                "--concurrency=2",
                "--loglevel=INFO",
            ],
        )
        wait_for_port("127.0.0.1", port)
        self.stdout.write(self.style.SUCCESS(f"\nRolegate is running at http://127.0.0.1:{port}/"))
        self.stdout.write(
            f"  admin  password: {admin_password if created else '(see var/demo-logins)'}"
        )
        self.stdout.write(
            f"  AWS sandbox: {sandbox_url}  (operator credentials in {credentials_file})"
        )
        self.stdout.write("Press Ctrl-C to stop.\n")
        raise SystemExit(supervisor.wait())
