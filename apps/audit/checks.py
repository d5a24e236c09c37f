"""System checks for the audit chain's key (rolegate.E030, E031)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from apps.audit.keys import AuditKeyError, audit_keyring


@register(Tags.security)
def audit_key(app_configs: object, **kwargs: Any) -> list[CheckMessage]:
    """Production needs an audit key outside the database; a configured one must parse."""
    configured = getattr(settings, "ROLEGATE_AUDIT_KEY", "") or getattr(
        settings, "ROLEGATE_AUDIT_KEY_FILE", ""
    )
    if not configured:
        if not settings.PRODUCTION:
            return []
        return [
            Error(
                "No audit key is configured, so the audit chain cannot be sealed.",
                hint="Set ROLEGATE_AUDIT_KEY (KEY_ID:SECRET, 32+ random characters) or "
                "ROLEGATE_AUDIT_KEY_FILE; keep it out of the database and back it up.",
                id="rolegate.E030",
            )
        ]
    try:
        audit_keyring()
    except AuditKeyError as error:
        return [Error(str(error), id="rolegate.E031")]
    return []
