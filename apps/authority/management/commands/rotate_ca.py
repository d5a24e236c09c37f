"""`manage.py rotate_ca init|activate|finish|rollback|status`: rotate the AWS RA CA."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.authority.guidance import PHASE_GUIDANCE, rotation_status
from apps.authority.pki import CaKeyError
from apps.authority.services import ROTATION_PHASES, RotationError, ca_rotate


class Command(BaseCommand):
    """Run one CA rotation phase and say what to do in AWS next."""

    help = (
        "Rotate the CA in phases: init (create a standby CA and export it next to the active "
        "one), activate (the standby signs), finish (drop the old CA from the export); rollback "
        "undoes the last init/activate. On an empty install, init creates the first CA."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("phase", choices=[*ROTATION_PHASES, "status"])

    def handle(self, *args: Any, **options: Any) -> None:
        phase = options["phase"]
        if phase == "status":
            self.stdout.write(rotation_status())
            return
        try:
            authority = ca_rotate(phase=phase, actor=None)
        except (RotationError, CaKeyError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{phase}: CA {authority.fingerprint_sha256} is now {authority.state}"
            )
        )
        self.stdout.write(PHASE_GUIDANCE[phase].after)
        self.stdout.write(rotation_status())
