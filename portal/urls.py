"""URL wiring: each app owns its URLs under one prefix."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

# A database outage is a styled 503 page, not a bare 500 (apps/core/outage.py).
handler500 = "apps.core.outage.server_error"

admin.site.site_header = "Rolegate administration"
admin.site.site_title = "Rolegate"

urlpatterns = [
    path("", include("apps.core.urls")),
    path("", include("apps.resources.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("oidc/", include("apps.accounts.oidc.urls")),
    path("audit/", include("apps.audit.urls")),
    path("auth/", include("apps.authority.urls")),
    path("manage/integrations/", include("apps.integrations.urls")),
    path("manage/", include("apps.access.urls")),
    path("requests/", include("apps.access.requests.urls")),
    path("api/", include("apps.api.urls")),
    path("cli/", include("apps.api.web_urls")),
    path("admin/", admin.site.urls),
]
