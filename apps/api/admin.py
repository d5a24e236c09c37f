"""Staff view of CLI tokens and device logins: read-only, with a revoke action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.api import services
from apps.api.models import ApiToken, DeviceAuthorization
from apps.core.capabilities import ACCESS_ADMIN, has_capability


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """List every user's CLI tokens; staff revoke them with the action (audited)."""

    list_display = (
        "prefix",
        "user",
        "method",
        "client_name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("method",)
    search_fields = ("prefix", "user__username", "client_name")
    readonly_fields = [f.name for f in ApiToken._meta.fields if f.name != "token_hash"]
    exclude = ("token_hash",)
    actions = ["revoke_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        # Viewing is allowed; every field is read-only, changes happen through the action.
        return has_capability(request.user, ACCESS_ADMIN)

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        """Revoke each selected token through the service, so each revocation is audited."""
        revoked = sum(services.token_revoke(actor=request.user, token=token) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(DeviceAuthorization)
class DeviceAuthorizationAdmin(admin.ModelAdmin[DeviceAuthorization]):
    """Recent CLI device logins, for investigation."""

    list_display = ("user_code", "status", "user", "client_name", "client_ip", "created_at")
    list_filter = ("status",)
    exclude = ("device_code_hash",)
    readonly_fields = [
        f.name for f in DeviceAuthorization._meta.fields if f.name != "device_code_hash"
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: DeviceAuthorization | None = None
    ) -> bool:
        return False
