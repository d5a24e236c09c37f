from __future__ import annotations

from django.apps import AppConfig


class ResourcesConfig(AppConfig):
    name = "apps.resources"
    label = "resources"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Serve the synced-app catalog to the access pages below (explainer, role preview)."""
        from apps.core.hooks import register_synced_apps
        from apps.resources.queries import app_catalog

        register_synced_apps(lambda: [summary.facts for summary in app_catalog()])
