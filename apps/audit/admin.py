"""Read-only admin for audit events: no add, change or delete."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Browse audit events; the log cannot be edited from here."""

    list_display = (
        "time",
        "event_type",
        "outcome",
        "actor_name",
        "target_kind",
        "target_name",
        "client_ip",
    )
    list_filter = ("outcome", "event_type")
    search_fields = ("actor_name", "target_name", "request_id")
    date_hierarchy = "time"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
