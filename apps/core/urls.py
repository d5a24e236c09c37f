from __future__ import annotations

from django.urls import path

from apps.core import probes, views

app_name = "core"
urlpatterns = [
    path("manage/", views.manage_index, name="manage"),
    # ProbeMiddleware answers these first (any Host); the routes keep them in the URLconf.
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", probes.metrics_view, name="metrics"),
]
