"""URLs of the enrollment wizard, included by apps/integrations/urls.py under `enroll/`."""

from __future__ import annotations

from django.urls import path

from apps.integrations.enrollment import views

app_name = "enroll"
urlpatterns = [
    path("", views.enroll_start, name="start"),
    path("reset/", views.enroll_reset, name="reset"),
    path("name/", views.enroll_name, name="name"),
    path("name/check/", views.enroll_name_check, name="name_check"),
    path("setup/", views.enroll_setup, name="setup"),
    path("setup/rolegate-enroll.sh", views.enroll_script_download, name="script"),
    path("setup/rolegate-enroll.yaml", views.enroll_template_download, name="template"),
    path("connect/", views.enroll_connect, name="connect"),
    path("profiles/", views.enroll_profiles, name="profiles"),
    path("profiles/preview/", views.enroll_preview, name="preview"),
    path("done/<str:name>/", views.enroll_done, name="done"),
    path("done/<str:name>/progress/", views.enroll_progress, name="progress"),
]
