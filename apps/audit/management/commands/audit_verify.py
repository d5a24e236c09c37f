"""``manage.py audit_verify``: seal pending events, then verify the hash chain."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.audit.chain import audit_seal, audit_verify


class Command(BaseCommand):
    help = "Verify the audit hash chain and report the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-seal", action="store_true", help="verify only, seal nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_seal"]:
            sealed = audit_seal()
            self.stdout.write(f"sealed {sealed} new event(s)")
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at link {report.broken_link_id} (event {report.event_id}): "
                f"{report.reason}; {report.links_checked} link(s) checked"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.links_checked} link(s)"))
