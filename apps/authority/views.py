"""The public CA export (CA certificates are public: AWS and operators fetch them)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from apps.authority.pki import CaKeyError
from apps.authority.selectors import ca_bundle_pem
from apps.core.policies import anonymous_allowed

EXPORT_TYPES = ("awsra",)


@anonymous_allowed
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """Serve the PEM bundle of every trusted CA certificate (`?type=awsra`)."""
    export_type = request.GET.get("type", "awsra")
    if export_type not in EXPORT_TYPES:
        return HttpResponse(
            f"unknown export type; supported: {', '.join(EXPORT_TYPES)}\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        bundle = ca_bundle_pem()
    except CaKeyError:
        # The reason names configuration; operators see it in the logs and the system check.
        return HttpResponse(
            "the certificate authority is not available\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(bundle, content_type="application/x-pem-file")
    if request.GET.get("download"):
        response["Content-Disposition"] = 'attachment; filename="rolegate-awsra-ca.pem"'
    response["Cache-Control"] = "no-cache"
    return response
