"""``manage.py demo``: the reference guide's whole story on one machine, no AWS account needed."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from apps.accounts.models import User
from apps.accounts.services import user_set_password
from apps.core.registry import apply_documents
from apps.demo import demo


class Command(BaseCommand):
    help = "Run the demo: sandbox AWS, web server and Celery worker with beat. Ctrl-C stops it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=4566)

    def say(self, line: str) -> None:
        self.stdout.write(f"[demo] {line}")

    def handle(self, *args: Any, **options: Any) -> None:
        port, sandbox_port = options["port"], options["sandbox_port"]
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        public_url = f"http://127.0.0.1:{port}"
        environ = dict(os.environ)
        environ.update(
            {
                "ROLEGATE_ENV": settings.ROLEGATE_ENV,
                **demo.aws_environment(sandbox_url),
                "ROLEGATE_PUBLIC_URL": public_url,
                "PYTHONUNBUFFERED": "1",
            }
        )
        os.environ.update(environ)
        self.say("preparing the database")
        call_command("migrate", verbosity=0, interactive=False)
        logins = demo.DemoLogins.load(settings.VAR_DIR / "demo-logins")

        supervisor = demo.Supervisor(environ, self.say)
        credentials_file = settings.VAR_DIR / "sandbox" / "credentials"
        supervisor.start(
            "sandbox",
            [
                demo.python(),
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
        if not demo.wait_for_port("127.0.0.1", sandbox_port):
            supervisor.stop_all()
            self.stderr.write(f"The sandbox did not start on port {sandbox_port}.")
            raise SystemExit(1)
        try:
            passwords = self.set_up(sandbox_url, credentials_file, logins)
        except Exception as error:
            supervisor.stop_all()
            self.stderr.write(f"Demo set-up failed: {error}")
            raise SystemExit(1) from None

        supervisor.start(
            "web", [demo.python(), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        )
        supervisor.start(
            "worker",
            [
                demo.python(),
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-B",
                "--pool=threads",
                "--concurrency=2",
                "--loglevel=WARNING",
            ],
        )
        demo.wait_for_port("127.0.0.1", port)
        self.print_instructions(public_url, sandbox_url, credentials_file, passwords)
        raise SystemExit(supervisor.wait())

    def set_up(
        self, sandbox_url: str, credentials_file: Path, logins: demo.DemoLogins
    ) -> dict[str, str]:
        """Guide steps 1-3: enroll the account, sync, create the role and the users."""
        admin_password, _ = logins.password_for("admin")
        alice_password, _ = logins.password_for("alice")
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", admin_password)
        self.say("step 1: enrolling the sandbox account with the wizard's AWS CLI script")
        enrollment = demo.enroll_sandbox(sandbox_url=sandbox_url, credentials_file=credentials_file)
        profile_arn = demo.guide_profile_arn(
            sandbox_url=sandbox_url, credentials_file=credentials_file
        )
        documents = demo.guide_documents(enrollment, profile_arn)
        self.say("step 3: creating the integration, the role example-read-only-access and alice")
        apply_documents(documents, actor=None, force=True)
        alice = User.objects.get(username="alice")
        if not alice.check_password(alice_password):
            user_set_password(actor=None, user=alice, password=alice_password)
        self.say("running the first profile sync")
        call_command("sync_profiles", demo.DEMO_INTEGRATION, "--quiet", stdout=self.stdout)
        return {"admin": admin_password, "alice": alice_password}

    def print_instructions(
        self, public_url: str, sandbox_url: str, credentials_file: Path, passwords: dict[str, str]
    ) -> None:
        bin_dir = Path(sys.executable).parent
        rolegate = shlex.quote(str(bin_dir / "rolegate"))
        aws = shlex.quote(str(bin_dir / "aws"))
        app = demo.GUIDE_APP
        lines = [
            "",
            self.style.SUCCESS(f"Rolegate is running at {public_url}/"),
            "",
            f"Logins (also in {settings.VAR_DIR / 'demo-logins'}):",
            f"  admin  {passwords['admin']}   (staff: audit log, roles, integrations)",
            f"  alice  {passwords['alice']}   (role example-read-only-access)",
            "",
            f"Console: sign in as alice, click Launch on {app}, pick ExampleReadOnlyAccess.",
            "",
            "CLI, in another terminal:",
            f"  export AWS_ENDPOINT_URL={sandbox_url}",
            f"  echo {shlex.quote(passwords['alice'])} | "
            f"{rolegate} login --proxy {public_url} --user alice",
            f"  {rolegate} apps ls",
            f"  {rolegate} apps login --aws-role {demo.GUIDE_ROLE_ARN} {app}",
            f"  {aws} --profile {app} sts get-caller-identity",
            f"  {aws} --profile {app} s3 ls",
            "",
            "Operator view of the integration:",
            f"  {bin_dir / 'python'} manage.py get integration/{demo.DEMO_INTEGRATION}",
            f"AWS sandbox: {sandbox_url}",
            f"  operator credentials: {credentials_file} (profile sandbox-admin)",
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(lines))
