from __future__ import annotations

from django.apps import AppConfig


class AuthorityConfig(AppConfig):
    name = "apps.authority"
    label = "authority"
    verbose_name = "Certificate authority"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.authority import checks  # noqa: F401  (registers the system checks)
