"""``manage.py rm KIND/NAME``: delete a resource."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import command_errors
from apps.core.registry import parse_reference


class Command(BaseCommand):
    help = "Delete a resource, e.g. rm role/example-read-only-access."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", help="KIND/NAME")

    def handle(self, *args: Any, **options: Any) -> None:
        with command_errors():
            kind, name = parse_reference(options["reference"])
            if not name:
                raise CommandError("give KIND/NAME, e.g. role/example-read-only-access")
            kind.delete(name, actor=None)
        self.stdout.write(f'{kind.kind} "{name}" has been deleted')
