"""Reads of the audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from apps.audit import events as vocabulary
from apps.audit.models import AuditChainLink, AuditEvent
from apps.core.errors import DomainError


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


STREAM_START = "start"
STREAM_END = "end"


class StreamCursorInvalid(DomainError, ValueError):
    """A `since` value that is not a stream position: 400 ``invalid_cursor``, like a bad cursor."""

    code = "invalid_cursor"
    status = 400


def _stream_position(since: str) -> int:
    if since == STREAM_START:
        return 0
    if since == STREAM_END:
        last = AuditChainLink.objects.order_by("-id").values_list("id", flat=True).first()
        return int(last or 0)
    prefix, _, number = since.partition("-")
    if prefix != "c" or not number.isdigit() or len(number) > 18:
        raise StreamCursorInvalid(
            f"since must be {STREAM_START!r}, {STREAM_END!r} or a next_cursor of the stream."
        )
    return int(number)


def audit_stream(filters: AuditFilter, *, since: str, limit: int) -> tuple[list[AuditEvent], str]:
    """Events sealed after the stream position ``since``, in chain order, and the next position.

    The position is the chain link: links are appended one sealer at a time under the seal lock,
    so link ids become visible in increasing order and a reader resuming after link N can never
    miss an event that a slower transaction commits later (its link comes after N). Event ids
    do not have that property: a long transaction commits a low id after higher ones are read.
    Events join the stream once sealed, which ``audit_record`` does right after commit.
    """
    position = _stream_position(since)
    links = list(
        AuditChainLink.objects.filter(id__gt=position)
        .order_by("id")
        .values_list("id", "event_id")[:limit]
    )
    if not links:
        return [], f"c-{position}"
    order = {event_id: index for index, (_link, event_id) in enumerate(links)}
    matching = audit_events(filters).filter(id__in=list(order))
    rows = sorted(matching, key=lambda event: order[event.id])
    return rows, f"c-{links[-1][0]}"
