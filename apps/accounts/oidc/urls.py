"""Single sign-on URLs, mounted at ``/oidc/`` (the login page links to ``authenticate/``)."""

from __future__ import annotations

from django.urls import path

from apps.accounts.oidc import views as oidc_views

app_name = "oidc"
urlpatterns = [
    path("authenticate/", oidc_views.oidc_authenticate, name="authenticate"),
    path("callback/", oidc_views.oidc_callback, name="callback"),
]
