from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The top floor: the embedded demo and the sandbox command, which may import every app."""

    name = "apps.demo"
    label = "demo"
    default_auto_field = "django.db.models.BigAutoField"
