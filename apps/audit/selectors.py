"""Reads of the audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from apps.audit import events as vocabulary
from apps.audit.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    """Filters of the audit log page and export."""

    event_type: str = ""
    actor: str = ""
    outcome: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    target: str = ""


def audit_events(filters: AuditFilter) -> QuerySet[AuditEvent]:
    """Audit events matching ``filters``, newest first."""
    events = AuditEvent.objects.all()
    if filters.event_type:
        # Rows from before the event vocabulary keep their old type: match them by current name.
        legacy = [
            old
            for old, new in vocabulary.LEGACY_NAMES.items()
            if new.startswith(filters.event_type) or old.startswith(filters.event_type)
        ]
        events = events.filter(
            Q(event_type__startswith=filters.event_type) | Q(event_type__in=legacy)
        )
    if filters.actor:
        events = events.filter(actor_name=filters.actor)
    if filters.outcome:
        events = events.filter(outcome=filters.outcome)
    if filters.since:
        events = events.filter(time__gte=filters.since)
    if filters.until:
        events = events.filter(time__lt=filters.until)
    if filters.target:
        events = events.filter(target_name=filters.target)
    return events.order_by("-time", "-id")


def event_types() -> list[str]:
    """Distinct event types present in the log (current names), for the filter menu."""
    stored = AuditEvent.objects.order_by("event_type").values_list("event_type", flat=True)
    return sorted({vocabulary.current_name(name) for name in stored.distinct()})
