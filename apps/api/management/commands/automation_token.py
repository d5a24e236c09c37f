"""``manage.py automation_token create|list|revoke``: scoped tokens for automation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.api import automation, selectors
from apps.api.scopes import SCOPES
from apps.core.errors import command_errors


class Command(BaseCommand):
    help = "Create, list or revoke automation tokens (scoped bearer tokens for the admin API)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a token and print it once")
        create.add_argument("name")
        create.add_argument("--owner", required=True, help="username the token acts for")
        create.add_argument(
            "--scope",
            action="append",
            required=True,
            dest="scopes",
            help=f"repeatable; one of: {', '.join(sorted(SCOPES))}",
        )
        create.add_argument("--days", type=int, default=automation.DEFAULT_LIFETIME.days)
        actions.add_parser("list", help="list tokens (never their secrets)")
        revoke = actions.add_parser("revoke", help="revoke a token by name")
        revoke.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options)
        elif action == "list":
            for token in selectors.automation_tokens():
                self.stdout.write(
                    f"{token.name}\t{token.owner.get_username()}\t{','.join(token.scopes)}\t"
                    f"{token.state}\texpires {token.expires_at:%Y-%m-%d}"
                )
        else:
            found = selectors.automation_tokens().filter(name=options["name"]).first()
            if found is None:
                raise CommandError(f"no automation token is named {options['name']!r}")
            if automation.automation_token_revoke(actor=None, token=found):
                self.stdout.write(f'automation token "{found.name}" has been revoked')
            else:
                self.stdout.write(f'automation token "{found.name}" was already revoked')

    def _create(self, options: dict[str, Any]) -> None:
        owner = get_user_model().objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"no user is named {options['owner']!r}")
        scopes = [part for value in options["scopes"] for part in value.split(",") if part]
        with command_errors():  # TokenInvalid: its message, exit status 1
            issued = automation.automation_token_create(
                actor=None,
                name=options["name"],
                owner=owner,
                scopes=scopes,
                lifetime=timedelta(days=options["days"]),
            )
        self.stderr.write(
            f'automation token "{issued.token.name}" created for {owner.get_username()} '
            f"({', '.join(issued.token.scopes)}), expires {issued.token.expires_at:%Y-%m-%d}; "
            "it is shown once:"
        )
        self.stdout.write(issued.plaintext)
