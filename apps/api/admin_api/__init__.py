"""The admin API (issue 25): roles, integrations and audit events, for automation tokens.

Every endpoint names the scope it needs (apps/api/scopes.py); writes go through the same kinds
and services as ``manage.py create`` and the web editor, so validation and messages are theirs.
Lists are cursor-paginated (apps/api/pagination.py); errors are ``{detail, code}``. A cursor or
`since` the list did not make raises a DomainError: the API's handler answers 400
``invalid_cursor``.

One module per topic, each with its own router; ``shared`` holds what they all use.
"""

from __future__ import annotations

from ninja import Router

from apps.api.admin_api import apply, audit, integrations, roles, users, webhooks

router = Router()
# The order here is the order of the operations in openapi.json (and of the URL patterns).
router.add_router("", roles.router)
router.add_router("", integrations.router)
router.add_router("", audit.router)
router.add_router("", apply.router)
router.add_router("", webhooks.router)
router.add_router("", users.router)
