"""`manage.py export_ca --type awsra`: print the PEM bundle of every trusted CA certificate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.authority.pki import CaKeyError
from apps.authority.selectors import ca_bundle_pem


class Command(BaseCommand):
    """Print the CA bundle AWS Roles Anywhere trusts (active + standby/previous)."""

    help = "Print the PEM bundle of every trusted CA certificate (paste it into the trust anchor)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--type", dest="export_type", default="awsra", choices=["awsra"])

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            bundle = ca_bundle_pem()
        except CaKeyError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(bundle, ending="")
