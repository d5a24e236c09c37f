"""The admin API on the audit log: events (paged, or streamed with `since`) and the export."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Schema
from pydantic import Field

from apps.api.admin_api.shared import AdminErrorOut, AdminRouter
from apps.api.http import JsonObject
from apps.api.pagination import page_queryset
from apps.api.scoped_auth import scoped

if TYPE_CHECKING:
    from apps.audit.models import AuditEvent
    from apps.audit.selectors import AuditFilter

router = AdminRouter()


class AuditEventOut(Schema):
    """One audit event, as the JSON Lines export writes it."""

    id: int
    time: datetime
    event_type: str
    outcome: str
    actor_name: str
    target_kind: str
    target_name: str
    client_ip: str | None
    request_id: str
    details: dict[str, Any]


class AuditPage(Schema):
    """A page of audit events.

    Without `since`: newest first, `next_cursor` null on the last page. With `since` (the
    stream): oldest first in the order events joined the tamper-evident chain, and
    `next_cursor` is always set: pass it as `since` on the next poll.
    """

    items: list[AuditEventOut]
    next_cursor: str | None


class AuditQuery(Schema):
    """Filters of the audit log, with cursor pagination and the `since` stream cursor."""

    event_type: str = Field(default="", max_length=64)
    actor: str = Field(default="", max_length=200)
    outcome: str = Field(default="", max_length=16)
    target: str = Field(default="", max_length=300)
    time_from: datetime | None = None
    time_until: datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str = Field(default="", max_length=500)
    since: str = Field(default="", max_length=500)


def _audit_filter(query: AuditQuery) -> AuditFilter:
    from apps.audit.selectors import AuditFilter

    return AuditFilter(
        event_type=query.event_type,
        actor=query.actor,
        outcome=query.outcome,
        since=query.time_from,
        until=query.time_until,
        target=query.target,
    )


def _event_out(event: AuditEvent) -> JsonObject:
    return {
        "id": event.id,
        "time": event.time,
        "event_type": event.current_type,
        "outcome": event.outcome,
        "actor_name": event.actor_name,
        "target_kind": event.target_kind,
        "target_name": event.target_name,
        "client_ip": event.client_ip,
        "request_id": event.request_id,
        "details": event.details,
    }


@router.get(
    "/audit/events",
    auth=scoped("audit:read"),
    response={200: AuditPage, 400: AdminErrorOut},
    tags=["audit"],
    summary="Audit events: filters, cursor pagination, and `since` to stream new ones",
)
def audit_events_list(request: HttpRequest, query: Query[AuditQuery]) -> JsonObject:
    """Page through the audit log, or (with `since`) poll for events after a cursor."""
    from apps.audit.selectors import audit_events, audit_stream

    next_cursor: str | None
    if query.since:
        rows, next_cursor = audit_stream(_audit_filter(query), since=query.since, limit=query.limit)
    else:
        rows, next_cursor = page_queryset(
            audit_events(_audit_filter(query)),
            keys=("id",),
            descending=True,
            limit=query.limit,
            cursor=query.cursor,
        )
    return {"items": [_event_out(event) for event in rows], "next_cursor": next_cursor}


@router.get(
    "/audit/export",
    auth=scoped("audit:read"),
    response={200: None, 400: AdminErrorOut},
    tags=["audit"],
    summary="The filtered audit log as JSON Lines (a `since` cursor streams from there)",
)
def audit_export(request: HttpRequest, query: Query[AuditQuery]) -> StreamingHttpResponse:
    """Stream JSON Lines like the staff export; ``X-Rolegate-Next-Since`` resumes after it."""
    from apps.audit.selectors import audit_events, audit_stream
    from apps.audit.views import _export_lines

    if query.since:
        rows, next_cursor = audit_stream(_audit_filter(query), since=query.since, limit=query.limit)
        response = StreamingHttpResponse(
            _export_lines(iter(rows)), content_type="application/jsonl"
        )
        response["X-Rolegate-Next-Since"] = next_cursor or ""
    else:
        events = audit_events(_audit_filter(query)).iterator(chunk_size=1000)
        response = StreamingHttpResponse(_export_lines(events), content_type="application/jsonl")
    response["Content-Disposition"] = 'attachment; filename="rolegate-audit.jsonl"'
    return response
