from __future__ import annotations

from django.urls import path

from apps.resources import views

app_name = "resources"
urlpatterns = [
    path("", views.resources_page, name="home"),
]
