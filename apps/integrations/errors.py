"""Errors of the integrations' services (`apps.core.errors.DomainError`s).

A sync that may not run is a refusal of the request, not an invalid resource document, so it
is not an `apps.core.registry.ResourceError`.
"""

from __future__ import annotations

from apps.core.errors import DomainError


class SyncDisabled(DomainError):
    """Profile sync is disabled for this integration, so no sync runs or is queued."""

    code = "sync_refused"
    status = 409

    def __init__(self, integration_name: str) -> None:
        super().__init__(f"profile sync is disabled for integration {integration_name!r}")
        self.integration_name = integration_name
