from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

app_name = "integrations"
urlpatterns: list[URLPattern | URLResolver] = [
    path("enroll/", include("apps.integrations.enrollment.urls")),
]
