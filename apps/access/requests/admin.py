"""Read-only admin for access requests: reviews happen on /requests/, where every rule applies."""

from __future__ import annotations

from typing import TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from apps.access.requests.models import AccessGrant, AccessRequest, AccessReview

_M = TypeVar("_M", bound=Model)


class _ReadOnly(admin.ModelAdmin[_M]):
    """No add, change or delete: the admin must not become a path around review rules."""

    def has_add_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False


class AccessReviewInline(admin.TabularInline[AccessReview, AccessRequest]):
    """The reviews of one request, read-only."""

    model = AccessReview
    fk_name = "request"
    fields = ("reviewer", "decision", "comment", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: AccessRequest | None = None) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: AccessRequest | AccessReview | None = None
    ) -> bool:
        return False


@admin.register(AccessRequest)
class AccessRequestAdmin(_ReadOnly[AccessRequest]):
    """Lists requests for operators; decisions are made on the request pages."""

    list_display = ("short_id", "requester", "roles", "state", "created_at", "access_ends_at")
    list_filter = ("state",)
    search_fields = ("requester__username",)
    list_select_related = ("requester",)
    inlines = (AccessReviewInline,)


@admin.register(AccessReview)
class AccessReviewAdmin(_ReadOnly[AccessReview]):
    """Lists reviews, read-only."""

    list_display = ("request", "reviewer", "decision", "created_at")
    list_select_related = ("reviewer", "request")


@admin.register(AccessGrant)
class AccessGrantAdmin(_ReadOnly[AccessGrant]):
    """Lists grants, read-only; end one early from its request's page."""

    list_display = ("role_name", "user", "starts_at", "ends_at", "ended_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "role_name")
