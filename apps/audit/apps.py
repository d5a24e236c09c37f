from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.audit import checks  # noqa: F401  (registers system checks)

        _count_committed_audit_events()


def _count_committed_audit_events() -> None:
    """Feed sign-in refusals to the metrics once their audit row commits (rolled back rows
    never happened, so they are not counted)."""
    from django.db import transaction
    from django.db.models.signals import post_save

    from apps.audit import events
    from apps.audit.models import AuditEvent
    from apps.core.metrics import observe_audit_event

    def on_save(sender: object, instance: AuditEvent, created: bool, **kwargs: Any) -> None:
        if created and instance.event_type in (events.USER_SIGNED_IN, "user.login"):
            event_type, outcome = instance.event_type, instance.outcome
            details = dict(instance.details or {})
            transaction.on_commit(lambda: observe_audit_event(event_type, outcome, details))

    post_save.connect(on_save, sender=AuditEvent, weak=False, dispatch_uid="rolegate-metrics-audit")
