"""``manage.py revoke_sessions --user NAME | --app APP [--role ARN]``: the kill switch, by hand.

Records the revocation (audited), then pushes `RolegateRevokedSessions` to IAM in the
foreground and prints the outcome, so an operator sees at once whether AWS took it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.models import Integration
from apps.integrations.models_revocation import RevokedSession
from apps.integrations.revocation.services import (
    app_sessions_revoke,
    revocation_push,
    user_sessions_revoke,
)


class Command(BaseCommand):
    help = "Revoke live AWS sessions of a user (every role) or of an app's roles (every user)."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--user", help="username whose sessions end")
        target.add_argument("--app", help="app whose roles' sessions end, for every user")
        parser.add_argument("--role", help="with --app: only this IAM role ARN")
        parser.add_argument("--reason", default="", help="recorded in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = str(options["reason"] or "operator revoked sessions (manage.py)")
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"user {options['user']!r} not found")
            count = user_sessions_revoke(actor=None, user=user, reason=reason)
        else:
            try:
                count = app_sessions_revoke(
                    actor=None, app_name=options["app"], role_arn=options["role"], reason=reason
                )
            except (LookupError, ValueError) as error:
                raise CommandError(str(error)) from None
        if not count:
            raise CommandError(
                "nothing to revoke: no role reachable on an integration with "
                "session_revocation enabled"
            )
        failed = False
        ids = sorted(set(RevokedSession.objects.values_list("integration_id", flat=True)))
        for integration in Integration.objects.filter(pk__in=ids):
            outcome = revocation_push(integration_id=integration.pk, reason=reason)
            if outcome is None:
                continue
            self.stdout.write(
                f"{integration.name}: {outcome.status}, {outcome.roles_written} role(s) written"
                + (f" ({outcome.error_message})" if outcome.error_message else "")
            )
            failed = failed or outcome.status != "SUCCESS"
        if failed:
            raise CommandError("the revocation policy could not be written everywhere (see above)")
