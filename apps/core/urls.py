from __future__ import annotations

from django.urls import path

from apps.core import views

app_name = "core"
urlpatterns = [
    path("manage/", views.manage_index, name="manage"),
    path("healthz", views.healthz, name="healthz"),
]
