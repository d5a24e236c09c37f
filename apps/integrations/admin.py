"""Integration admin: edits go through the same validation and audited services as
`create -f`; the run history and health are shown at a glance, with a "Sync now" action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core.registry import ResourceError
from apps.integrations import selectors, services
from apps.integrations.errors import SyncDisabled
from apps.integrations.models import Integration, SyncRun
from apps.integrations.spec import IntegrationSpec, make_integration_spec

_FIELD_OF = {
    "metadata.name": "name",
    "spec.aws_ra.trust_anchor_arn": "trust_anchor_arn",
    "spec.aws_ra.profile_sync_config.profile_arn": "sync_profile_arn",
    "spec.aws_ra.profile_sync_config.role_arn": "sync_role_arn",
}


class IntegrationForm(forms.ModelForm[Integration]):
    """Validates with `make_integration_spec`, so the admin accepts exactly what YAML does."""

    filters_text = forms.CharField(
        label="Profile name filters",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: a glob (MyTeam-*) or a ^...$ regex. Empty: every profile.",
    )

    class Meta:
        model = Integration
        fields = (
            "name",
            "trust_anchor_arn",
            "sync_enabled",
            "sync_profile_arn",
            "sync_role_arn",
            "sync_profile_accepts_role_session_name",
            "session_revocation_enabled",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["filters_text"].initial = "\n".join(self.instance.profile_name_filters)
        self.spec: IntegrationSpec | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name = data.get("name") or self.instance.name
        filters = [line.strip() for line in (data.get("filters_text") or "").splitlines()]
        try:
            self.spec = make_integration_spec(
                name=name,
                trust_anchor_arn=data.get("trust_anchor_arn") or "",
                sync_enabled=bool(data.get("sync_enabled")),
                sync_profile_arn=data.get("sync_profile_arn") or "",
                sync_role_arn=data.get("sync_role_arn") or "",
                sync_profile_accepts_role_session_name=bool(
                    data.get("sync_profile_accepts_role_session_name")
                ),
                profile_name_filters=[f for f in filters if f],
                session_revocation_enabled=bool(data.get("session_revocation_enabled")),
            )
        except ResourceError as error:
            field = _FIELD_OF.get(error.field or "")
            if field is None and (error.field or "").endswith("]"):
                field = "filters_text"
            self.add_error(field if field in self.fields else None, error.reason)
        return data

    def validate_unique(self) -> None:
        # The service reports an existing name with a clear message.
        return None


class SyncRunInline(admin.TabularInline[SyncRun, Integration]):
    """The latest runs of an integration (read-only)."""

    model = SyncRun
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-started_at",)
    fields = readonly_fields = (
        "started_at",
        "trigger",
        "status",
        "profiles_seen",
        "profiles_synced",
        "apps_created",
        "apps_updated",
        "apps_deleted",
        "profiles_skipped",
        "profile_errors",
        "short_error",
    )
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[SyncRun]:
        queryset = super().get_queryset(request)
        recent = list(queryset.order_by("-started_at", "-id").values_list("pk", flat=True)[:20])
        return queryset.filter(pk__in=recent)

    @admin.display(description="error")
    def short_error(self, run: SyncRun) -> str:
        first = run.error_message.splitlines()[0] if run.error_message else ""
        return first[:160]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin[Integration]):
    """Integrations with their sync health; changes are validated, audited and synced."""

    form = IntegrationForm
    list_display = (
        "name",
        "sub_kind",
        "account_id",
        "region",
        "sync_enabled",
        "health",
        "app_count",
    )
    list_filter = ("sync_enabled", "sub_kind")
    search_fields = ("name", "account_id", "trust_anchor_arn")
    actions = ("sync_now",)
    inlines = (SyncRunInline,)
    readonly_fields = (
        "sub_kind",
        "health",
        "last_complete_listing_at",
        "crl_arn",
        "crl_uploaded_version",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Integration]:
        from django.db.models import Count

        queryset: QuerySet[Integration] = super().get_queryset(request)
        return queryset.annotate(_app_count=Count("apps"))

    def get_readonly_fields(self, request: HttpRequest, obj: Integration | None = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "name") if obj is not None else fields

    def get_fields(self, request: HttpRequest, obj: Integration | None = None) -> Any:
        editable = [
            "name",
            "trust_anchor_arn",
            "sync_enabled",
            "sync_profile_arn",
            "sync_role_arn",
            "sync_profile_accepts_role_session_name",
            "filters_text",
            "session_revocation_enabled",
        ]
        if obj is None:
            return editable
        return [*editable, *self.readonly_fields[0:1], *self.readonly_fields[1:]]

    @admin.display(description="apps")
    def app_count(self, integration: Integration) -> int:
        return int(getattr(integration, "_app_count", 0))

    @admin.display(description="sync health")
    def health(self, integration: Integration) -> str:
        state = selectors.integration_health(integration)
        # No inline colour: the Content-Security-Policy forbids inline styles, so the state
        # is spelled out in capitals instead.
        return format_html("<strong>{}</strong> {}", state.state.upper(), state.summary)

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        assert form.spec is not None
        try:
            saved = services.integration_apply(actor=request.user, spec=form.spec, force=change)
        except ResourceError as error:
            # Validation already ran; what is left (a name taken meanwhile) is shown plainly.
            messages.error(request, str(error))
            return
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Integration) -> None:
        services.integration_delete(actor=request.user, name=obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for name in list(queryset.values_list("name", flat=True)):
            services.integration_delete(actor=request.user, name=name)

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        queued, refused = [], []
        for name in queryset.values_list("name", flat=True):
            try:
                outcome = services.integration_sync_request(actor=request.user, name=name)
            except (ResourceError, SyncDisabled) as error:
                refused.append(str(error))
                continue
            if outcome == services.SyncQueued.NOT_QUEUED:
                refused.append(f"{name}: not queued, the task queue (broker) did not answer")
            else:
                queued.append(name)
        if queued:
            messages.success(request, f"Sync queued for: {', '.join(queued)}")
        for reason in refused:
            messages.warning(request, reason)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin[SyncRun]):
    """Every sync run, filterable by status; read-only (the sync writes them)."""

    list_display = (
        "started_at",
        "integration",
        "trigger",
        "status",
        "profiles_synced",
        "apps_created",
        "apps_updated",
        "apps_deleted",
        "profile_errors",
        "duration",
    )
    list_filter = ("status", "trigger", "integration")
    list_select_related = ("integration",)
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False

    @admin.display(description="duration (s)")
    def duration(self, run: SyncRun) -> str:
        seconds = run.duration_seconds
        return "" if seconds is None else f"{seconds:.1f}"
