"""User admin with roles and traits."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from apps.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    """Django's user admin plus Rolegate roles and traits."""

    list_display = ("username", "email", "is_staff", "is_active", "auth_source", "last_login")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Rolegate access", {"fields": ("roles", "traits", "external_traits", "auth_source")}),
    )
    readonly_fields = ("external_traits", "auth_source")
