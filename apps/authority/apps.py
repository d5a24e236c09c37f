from __future__ import annotations

from django.apps import AppConfig


class AuthorityConfig(AppConfig):
    name = "apps.authority"
    label = "authority"
    default_auto_field = "django.db.models.BigAutoField"
