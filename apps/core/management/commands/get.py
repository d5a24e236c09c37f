"""``manage.py get KIND[/NAME] [--format yaml|json]``: print resources."""

from __future__ import annotations

import json
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandParser

from apps.core.errors import command_errors
from apps.core.registry import parse_reference


class Command(BaseCommand):
    help = "Print a resource (KIND/NAME) or every resource of a kind (KIND)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", help="KIND or KIND/NAME, e.g. integration/aws-prod")
        parser.add_argument("--format", choices=("yaml", "json"), default="yaml")

    def handle(self, *args: Any, **options: Any) -> None:
        with command_errors():
            kind, name = parse_reference(options["reference"])
            documents = [kind.get(name)] if name else kind.list()
        if options["format"] == "json":
            payload: Any = documents[0] if name else documents
            self.stdout.write(json.dumps(payload, indent=2, sort_keys=False, default=str))
        else:
            self.stdout.write(
                yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False).rstrip()
            )
