"""Read-only role admin: roles are written through the role editor so every change is audited."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.access.models import Role
from apps.access.requests import admin as requests_admin  # noqa: F401 - registers the request admin


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin[Role]):
    """Lists roles and links to the editor; add, change and delete happen there."""

    list_display = ("name", "version", "revision", "updated_at", "editor_link")
    search_fields = ("name",)
    readonly_fields = ("name", "version", "revision", "spec", "created_at", "updated_at")

    @admin.display(description="Edit")
    def editor_link(self, role: Role) -> str:
        """A link to the role editor."""
        return format_html(
            '<a href="{}">Open in the role editor</a>',
            reverse("access:role_edit", args=[role.name]),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        return False
