"""``manage.py audit_verify``: seal pending events, verify the keyed chain and the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.audit.chain import audit_seal, audit_verify, unsealed_backlog
from apps.audit.checkpoints import CheckpointError, checkpoint_compare, checkpoint_load_last
from apps.audit.keys import AuditKeyError


class Command(BaseCommand):
    help = (
        "Verify the audit chain (HMAC links under the audit keys) and compare it with the last "
        "signed checkpoint; report the first broken link, a truncated tail or a rebuilt chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-seal", action="store_true", help="verify only, seal nothing")
        parser.add_argument(
            "--checkpoint",
            metavar="FILE",
            help="JSON Lines file whose last line is the checkpoint to check against "
            "(default: ROLEGATE_AUDIT_CHECKPOINT_FILE; lines copied from the log work too)",
        )
        parser.add_argument("--no-checkpoint", action="store_true", help="verify the links only")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._verify(options)
        except AuditKeyError as error:
            raise CommandError(str(error)) from None

    def _verify(self, options: dict[str, Any]) -> None:
        if not options["no_seal"]:
            sealed = audit_seal()
            self.stdout.write(f"sealed {sealed} new event(s)")
        else:
            backlog, oldest = unsealed_backlog()
            if backlog:
                self.stderr.write(
                    f"warning: {backlog} event(s) older than a minute are not sealed yet "
                    f"(oldest {oldest:%Y-%m-%d %H:%M:%S}): is the sealer running?"
                )
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at link {report.broken_link_id} (event {report.event_id}): "
                f"{report.reason}; {report.links_checked} link(s) checked"
            )
        path = options.get("checkpoint") or getattr(settings, "ROLEGATE_AUDIT_CHECKPOINT_FILE", "")
        if options["no_checkpoint"] or not path:
            self.stdout.write(
                self.style.SUCCESS(f"audit chain intact: {report.links_checked} link(s)")
            )
            self.stdout.write("no checkpoint checked: a truncated tail cannot be detected")
            return
        if not options.get("checkpoint") and not Path(path).exists():
            self.stdout.write(
                self.style.SUCCESS(f"audit chain intact: {report.links_checked} link(s)")
            )
            self.stdout.write(f"no checkpoint written yet at {path}")
            return
        try:
            checkpoint = checkpoint_load_last(path)
        except CheckpointError as error:
            raise CommandError(f"checkpoint refused: {error}") from None
        mismatch = checkpoint_compare(report, checkpoint)
        if mismatch:
            raise CommandError(f"audit chain does not match its checkpoint: {mismatch}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain intact: {report.links_checked} link(s); matches the checkpoint of "
                f"{checkpoint.time} ({checkpoint.links} link(s))"
            )
        )
