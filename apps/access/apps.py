from __future__ import annotations

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "apps.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Hook role-name validation into user writes (user YAML, admin)."""
        from apps.access.kinds import validate_user_role_names
        from apps.core.hooks import role_name_validators

        if validate_user_role_names not in role_name_validators:
            role_name_validators.append(validate_user_role_names)
