"""Browser pages for the CLI: device-login approval and the user's token list (under /cli/)."""

from __future__ import annotations

from django.urls import path

from apps.api import views

app_name = "cli"
urlpatterns = [
    path("approve", views.device_approve, name="approve"),
    path("tokens", views.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke", views.token_revoke, name="token-revoke"),
    path("automation-tokens", views.automation_token_list, name="automation-tokens"),
    path(
        "automation-tokens/<int:token_id>/revoke",
        views.automation_token_revoke,
        name="automation-token-revoke",
    ),
]
