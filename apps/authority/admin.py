"""Read-only admin for the CA and the leaves it issued; rotation buttons with confirmation.

No key material is ever shown: the encrypted-key columns are excluded from every form and list.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from apps.authority.guidance import PHASE_GUIDANCE, available_phases
from apps.authority.models import CertificateAuthority, LeafCertificate
from apps.authority.pki import CaKeyError
from apps.authority.selectors import ca_bundle_pem
from apps.authority.services import ROTATION_PHASES, RotationError, RotationPhase, ca_rotate

KEY_MATERIAL_FIELDS = ("dek_nonce", "wrapped_dek", "key_nonce", "key_ciphertext")


_M = TypeVar("_M", bound=Model)


class ReadOnlyForStaff(admin.ModelAdmin[_M]):
    """Staff may look; nobody adds, edits or deletes through the admin."""

    actions = None

    def has_view_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyForStaff[CertificateAuthority]):
    """CA generations with their state, fingerprints and validity."""

    list_display = (
        "state",
        "key_type",
        "fingerprint_sha256",
        "serial_hex",
        "not_before",
        "not_after",
        "activated_at",
        "retired_at",
        "crl_number",
    )
    list_filter = ("state", "key_type")
    exclude = KEY_MATERIAL_FIELDS
    readonly_fields = [
        field.name
        for field in CertificateAuthority._meta.fields
        if field.name not in (*KEY_MATERIAL_FIELDS, "id")
    ]
    change_list_template = "admin/authority/certificateauthority/change_list.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer(*KEY_MATERIAL_FIELDS)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="authority_ca_export"),
            path("rotate/<str:phase>/", wrap(self.rotate_view), name="authority_ca_rotate"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "rotation_phases": [
                (phase, PHASE_GUIDANCE[phase].title) for phase in available_phases()
            ]
            if request.user.is_superuser
            else [],
        }
        return super().changelist_view(request, extra_context=context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """Download the trusted CA bundle (staff)."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        try:
            bundle = ca_bundle_pem()
        except CaKeyError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(reverse("admin:authority_certificateauthority_changelist"))
        response = HttpResponse(bundle, content_type="application/x-pem-file")
        response["Content-Disposition"] = 'attachment; filename="rolegate-awsra-ca.pem"'
        return response

    def rotate_view(self, request: HttpRequest, phase: str) -> HttpResponse:
        """GET: explain the phase and ask for confirmation; POST: run it (superusers only)."""
        if not (self.has_view_permission(request) and request.user.is_superuser):
            return HttpResponse("CA rotation needs a superuser.", status=403)
        changelist = reverse("admin:authority_certificateauthority_changelist")
        if phase not in ROTATION_PHASES:
            messages.error(request, f"Unknown rotation phase {phase!r}.")
            return HttpResponseRedirect(changelist)
        guidance = PHASE_GUIDANCE[phase]
        if request.method == "POST":
            try:
                authority = ca_rotate(phase=cast(RotationPhase, phase), actor=request.user)
            except (RotationError, CaKeyError) as error:
                messages.error(request, str(error))
            else:
                messages.success(
                    request,
                    f"{guidance.title}: CA {authority.fingerprint_sha256} is now "
                    f"{authority.state}. {guidance.after}",
                )
            return HttpResponseRedirect(changelist)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": guidance.title,
            "phase": phase,
            "guidance": guidance,
            "applies": phase in available_phases(),
            "bundle_url": reverse("admin:authority_ca_export"),
        }
        return TemplateResponse(request, "admin/authority/rotate_confirm.html", context)


@admin.register(LeafCertificate)
class LeafCertificateAdmin(ReadOnlyForStaff[LeafCertificate]):
    """Issued leaf certificates (serial, subject, purpose, validity, issuing CA); no keys."""

    list_display = (
        "serial_hex",
        "subject_cn",
        "purpose",
        "issued_at",
        "not_after",
        "authority_state",
        "actor_name",
        "revoked_at",
    )
    list_filter = ("purpose", "authority__state", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("serial_hex", "subject_cn", "actor_name")
    date_hierarchy = "issued_at"
    list_select_related = ("authority",)
    readonly_fields = [field.name for field in LeafCertificate._meta.fields if field.name != "id"]
    show_full_result_count = False

    @admin.display(description="CA state", ordering="authority__state")
    def authority_state(self, obj: LeafCertificate) -> str:
        return obj.authority.state
