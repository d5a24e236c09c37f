"""``manage.py apply -f PATH [--dry-run] [--source S [--prune]]``: resources as code."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.core.apply import format_plan, plan_apply, read_path
from apps.core.errors import command_errors


class Command(BaseCommand):
    help = (
        "Create or update resources from a YAML file or a directory of them, printing the plan "
        "(create / change with a field diff / unchanged / delete). --dry-run writes nothing; "
        "--prune deletes resources managed from --source that the files no longer name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-f", "--filename", required=True, help="YAML file or directory")
        parser.add_argument("--dry-run", action="store_true", help="print the plan only")
        parser.add_argument(
            "--source",
            default="",
            help="ownership marker recorded on every applied resource (e.g. git:platform/roles)",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="delete resources managed from --source that no document names",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with command_errors(" (nothing was written)"):
            documents = read_path(options["filename"])
            plan = plan_apply(
                documents,
                actor=None,
                source=options["source"],
                prune=options["prune"],
                dry_run=options["dry_run"],
            )
        for line in format_plan(plan, dry_run=options["dry_run"]):
            self.stdout.write(line)
