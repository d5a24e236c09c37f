"""System checks for the CA's key-encryption key (rolegate.E010, E011)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from apps.authority.keyring import configured_keks
from apps.authority.pki import CaKeyError


@register(Tags.security)
def ca_encryption_key(app_configs: object, **kwargs: Any) -> list[CheckMessage]:
    """Production needs a CA encryption key; a configured one must be usable."""
    key = getattr(settings, "ROLEGATE_CA_ENCRYPTION_KEY", "")
    key_file = getattr(settings, "ROLEGATE_CA_ENCRYPTION_KEY_FILE", "")
    if not key and not key_file:
        if settings.PRODUCTION:
            return [
                Error(
                    "No CA encryption key is configured.",
                    hint="Set ROLEGATE_CA_ENCRYPTION_KEY (32+ random characters) or "
                    "ROLEGATE_CA_ENCRYPTION_KEY_FILE; keep it outside the database and back "
                    "it up: without it the CA cannot sign.",
                    id="rolegate.E010",
                )
            ]
        return []
    try:
        configured_keks()
    except CaKeyError as error:
        return [Error(str(error), id="rolegate.E011")]
    return []
