"""System checks on how settings relate to each other (ids rolegate.E0xx / W0xx)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def production_settings(app_configs: object, **kwargs: Any) -> list[CheckMessage]:
    """Production must not run on the demo's embedded defaults."""
    messages: list[CheckMessage] = []
    if not settings.PRODUCTION:
        return messages
    if str(settings.DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
        messages.append(
            Error(
                "Production runs on SQLite.",
                hint="Set DATABASE_URL to a PostgreSQL URL.",
                id="rolegate.E001",
            )
        )
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        messages.append(
            Error(
                "Production uses the demo's filesystem broker, which only works on one machine.",
                hint="Set CELERY_BROKER_URL to a Redis URL.",
                id="rolegate.E002",
            )
        )
    if not settings.ROLEGATE_PUBLIC_URL.startswith("https://"):
        messages.append(
            Warning(
                "ROLEGATE_PUBLIC_URL is not https.",
                hint="Serve Rolegate over TLS; it is the Issuer of console sign-ins.",
                id="rolegate.W001",
            )
        )
    return messages


@register(Tags.security)
def proxy_settings(app_configs: object, **kwargs: Any) -> list[CheckMessage]:
    """The old X-Forwarded-For boolean still works, as one trusted hop, but is deprecated."""
    if not getattr(settings, "ROLEGATE_TRUST_X_FORWARDED_FOR", False):
        return []
    return [
        Warning(
            "ROLEGATE_TRUST_X_FORWARDED_FOR is deprecated; it now means one trusted proxy hop.",
            hint="Set ROLEGATE_TRUSTED_PROXY_HOPS=1 (or ROLEGATE_TRUSTED_PROXIES to the proxies' "
            "networks) and remove ROLEGATE_TRUST_X_FORWARDED_FOR.",
            id="rolegate.W030",
        )
    ]
