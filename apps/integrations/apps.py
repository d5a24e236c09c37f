from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Push a changed CRL (a revoked leaf, a re-signed list) to every trust anchor at once."""
        from apps.core.hooks import crl_change_listeners
        from apps.integrations.services.crl import crl_push_soon

        if crl_push_soon not in crl_change_listeners:
            crl_change_listeners.append(crl_push_soon)
