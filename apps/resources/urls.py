from __future__ import annotations

from django.urls import path

from apps.resources import views

app_name = "resources"
urlpatterns = [
    path("", views.resources_page, name="home"),
    path("apps/<str:name>/launch", views.app_launch, name="launch"),
    path("apps/<str:name>/pin", views.app_pin, name="pin"),
]
