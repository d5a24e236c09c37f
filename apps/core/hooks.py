"""Extension points between apps that must not import each other at module load."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Each validator receives role names and raises apps.core.registry.ResourceError for unknown ones.
# apps.access appends its validator in AppConfig.ready().
role_name_validators: list[Callable[[list[str]], None]] = []


def validate_role_names(names: list[str]) -> None:
    """Run every registered role-name validator."""
    for validator in role_name_validators:
        validator(names)


# Called by audit_record with each event it writes, inside the event's transaction (apps.webhooks
# appends the outbox writer in ready()). An exception fails the write, like the event's own.
audit_event_listeners: list[Callable[[Any], None]] = []

# Called after a transaction that changed a CRL commits (a leaf revoked, a CRL re-signed), so the
# new list reaches the trust anchors at once. apps.integrations appends its push in ready().
crl_change_listeners: list[Callable[[], None]] = []


def notify_crl_changed() -> None:
    """Run every CRL-change listener; one failing listener never stops the others."""
    import logging

    for listener in crl_change_listeners:
        try:
            listener()
        except Exception:
            logging.getLogger(__name__).exception("a CRL change listener failed")
