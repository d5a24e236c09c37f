"""Signed webhooks: notify chat, ticketing and paging tools of access and operations events."""

from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core import hooks
        from apps.webhooks import tasks  # noqa: F401 - registers the task names services queue
        from apps.webhooks.services import deliveries_for_event

        if deliveries_for_event not in hooks.audit_event_listeners:
            hooks.audit_event_listeners.append(deliveries_for_event)
