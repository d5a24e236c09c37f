"""Webhook endpoints and their delivery log in the Django admin (integration admins)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from apps.core.capabilities import INTEGRATION_ADMIN, has_capability
from apps.webhooks import payloads, services
from apps.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def _allowed(request: HttpRequest) -> bool:
    return has_capability(request.user, INTEGRATION_ADMIN)


class WebhookEndpointForm(forms.ModelForm[WebhookEndpoint]):
    """The secret is write-only: blank keeps the current one."""

    url = forms.URLField(max_length=2000, assume_scheme="https")
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="At least 16 characters; leave blank to keep the current secret.",
    )
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in payloads.WEBHOOK_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("name", "url", "secret", "event_types", "payload_format", "enabled")

    def clean_secret(self) -> str:
        value = str(self.cleaned_data.get("secret") or "")
        if not value and self.instance.pk:
            return str(self.instance.secret)
        if len(value) < 16:
            raise forms.ValidationError("The secret must be at least 16 characters.")
        return value


class _AdminMixin:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _allowed(request)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_AdminMixin, admin.ModelAdmin[WebhookEndpoint]):
    """Endpoints: saved through the service (validated, audited); disabling reason visible."""

    form = WebhookEndpointForm
    list_display = (
        "name",
        "url",
        "payload_format",
        "enabled",
        "disabled_reason",
        "consecutive_failures",
    )
    readonly_fields = ("disabled_reason", "disabled_at", "consecutive_failures", "created_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _allowed(request)

    def has_change_permission(
        self, request: HttpRequest, obj: WebhookEndpoint | None = None
    ) -> bool:
        return _allowed(request)

    def has_delete_permission(
        self, request: HttpRequest, obj: WebhookEndpoint | None = None
    ) -> bool:
        return _allowed(request)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        saved = services.webhook_endpoint_save(
            actor=request.user,
            name=data["name"],
            url=data["url"],
            secret=data["secret"],
            event_types=list(data["event_types"]),
            payload_format=data["payload_format"],
            enabled=data["enabled"],
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.webhook_endpoint_delete(actor=request.user, endpoint=obj)


class WebhookAttemptInline(admin.TabularInline[WebhookAttempt, WebhookDelivery]):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "at", "status_code", "error", "duration_ms", "will_retry")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_AdminMixin, admin.ModelAdmin[WebhookDelivery]):
    """The delivery log: every event sent to every endpoint, with each attempt."""

    list_display = (
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
    )
    list_filter = ("status", "event_type", "endpoint")
    inlines = (WebhookAttemptInline,)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WebhookDelivery | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: WebhookDelivery | None = None
    ) -> bool:
        return False
