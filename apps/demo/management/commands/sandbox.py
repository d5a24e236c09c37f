"""``manage.py sandbox [--port 4566] [--seed guide]``: only the offline AWS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the offline AWS sandbox (IAM, STS, S3, Roles Anywhere, console sign-in)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=4566)
        parser.add_argument("--seed", choices=("guide",), default=None)
        parser.add_argument("--credentials-file", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        from sandbox.cli import main

        argv = ["--host", options["host"], "--port", str(options["port"])]
        if options["seed"]:
            argv += ["--seed", options["seed"]]
        if options["credentials_file"]:
            argv += ["--credentials-file", options["credentials_file"]]
        raise SystemExit(main(argv))
