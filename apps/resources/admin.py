"""AWS apps in the admin, read-only: the profile sync owns them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.hooks import session_revocation
from apps.resources.models import AwsApp
from apps.resources.selectors import app_last_confirmed_at


@admin.register(AwsApp)
class AwsAppAdmin(admin.ModelAdmin[AwsApp]):
    """Synced apps; edits would be overwritten by the next sync, so none are offered."""

    list_display = (
        "name",
        "integration",
        "account_id",
        "region",
        "profile_name",
        "confirmed",
        "has_error",
    )
    list_filter = ("integration", "account_id", "region")
    list_select_related = ("integration",)
    search_fields = ("name", "profile_name", "profile_arn", "account_id")
    actions = ("revoke_aws_sessions",)

    @admin.action(description="Revoke AWS sessions (every user, every role of the app)")
    def revoke_aws_sessions(self, request: HttpRequest, queryset: QuerySet[AwsApp]) -> None:
        """The kill switch for an app: end every live session on its roles."""
        total = sum(
            session_revocation().revoke_app(actor=request.user, app_name=app.name)
            for app in queryset
        )
        if total:
            messages.success(
                request,
                f"Revocation of every session on {total} role(s) recorded; the policy is being "
                "written to IAM.",
            )
        else:
            messages.warning(
                request, "Nothing revoked: session revocation is off for these apps' integrations."
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AwsApp | None = None) -> bool:
        return False

    @admin.display(description="last confirmed")
    def confirmed(self, app: AwsApp) -> Any:
        return app_last_confirmed_at(app)

    @admin.display(description="sync error", boolean=True)
    def has_error(self, app: AwsApp) -> bool:
        return bool(app.sync_error)
