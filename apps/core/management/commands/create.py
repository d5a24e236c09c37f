"""``manage.py create -f FILE [--force]``: create resources from YAML documents."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.apply import format_plan, plan_apply
from apps.core.errors import command_errors
from apps.core.registry import apply_documents, load_documents


class Command(BaseCommand):
    help = "Create (or with --force replace) resources from a YAML file; '-' reads stdin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-f", "--filename", required=True, help="YAML file, or - for stdin")
        parser.add_argument("--force", action="store_true", help="replace existing resources")

    def handle(self, *args: Any, **options: Any) -> None:
        filename = options["filename"]
        try:
            if filename == "-":
                text = sys.stdin.read()
            else:
                with open(filename, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as error:
            raise CommandError(f"cannot read {filename}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{filename} is not UTF-8 text") from None
        with command_errors(" (nothing was written)"):
            documents = load_documents(text)
            if options["force"]:
                # Replacing: report what really happened to each (created, updated, unchanged).
                lines = format_plan(plan_apply(documents, actor=None), dry_run=False)[:-1]
            else:
                applied = apply_documents(documents, actor=None, force=False)
                lines = [f'{kind} "{name}" has been created' for kind, name in applied]
        for line in lines:
            if not line.startswith(" "):
                self.stdout.write(line)
