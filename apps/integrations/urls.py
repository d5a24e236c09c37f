from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from apps.integrations import views

app_name = "integrations"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.integration_list, name="list"),
    path("enroll/", include("apps.integrations.enrollment.urls")),
    path("<str:name>/", views.integration_detail, name="detail"),
    path("<str:name>/sync/", views.integration_sync_now, name="sync_now"),
]
