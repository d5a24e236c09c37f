"""``manage.py sync_profiles [NAME]``: run the profile sync now, in the foreground."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import command_errors
from apps.integrations import services
from apps.integrations.models import Integration, SyncRun


class _ProgressBar:
    """A one-line progress bar on a terminal; occasional plain lines otherwise."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self.stream = stream
        self.name = name
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_reported = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "list":
            text = f"{self.name}: listing profiles, page {done}"
        else:
            width = 30
            filled = width * done // total if total else width
            text = f"{self.name}: tags [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self.tty:
            self.stream.write("\r" + text.ljust(78))
            self.stream.flush()
        elif stage == "list" or done == total or done // 50 != self._last_reported:
            self._last_reported = done // 50
            self.stream.write(text + "\n")

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Sync Roles Anywhere profiles into AWS apps now (all enabled integrations, or NAME)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="integration name (default: every enabled one)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument(
            "--allow-mass-delete",
            action="store_true",
            help="confirm that this run may remove more apps than "
            "ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE allows, or all of them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.get("name")
        if name:
            names = [name]
        else:
            names = list(
                Integration.objects.filter(sync_enabled=True)
                .order_by("name")
                .values_list("name", flat=True)
            )
            if not names:
                self.stdout.write("No integration has profile sync enabled.")
                return
        failed = 0
        for integration_name in names:
            bar = None if options["quiet"] else _ProgressBar(sys.stderr, integration_name)
            try:
                with command_errors():
                    outcome = services.integration_sync(
                        name=integration_name,
                        trigger=SyncRun.Trigger.COMMAND,
                        progress=bar,
                        allow_mass_delete=bool(options.get("allow_mass_delete")),
                    )
            finally:
                if bar is not None:
                    bar.close()
            if outcome.status != SyncRun.Status.SUCCESS:
                failed += 1
            self.stdout.write(
                f"{outcome.integration}: {outcome.status} - {outcome.profiles_synced} synced, "
                f"{outcome.apps_created} created, {outcome.apps_updated} updated, "
                f"{outcome.apps_deleted} deleted, {outcome.profiles_skipped} skipped, "
                f"{outcome.profile_errors} error(s) ({outcome.profiles_seen} profiles seen, "
                f"{outcome.aws_calls} AWS calls)"
            )
            if outcome.error_message:
                self.stdout.write(outcome.error_message)
        if failed:
            raise CommandError(f"{failed} of {len(names)} sync(s) did not succeed")
