from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from apps.authority import views

app_name = "authority"
urlpatterns: list[URLPattern | URLResolver] = [
    path("export", views.export, name="export"),
]
