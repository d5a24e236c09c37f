"""The audit log page and its JSON Lines export (staff only)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse

from apps.audit.forms import AuditFilterForm
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_events, event_types
from apps.core.identity import HtmxHttpRequest
from apps.core.policies import audit_read_required

PAGE_SIZE = 50
EXPORT_FIELDS = (
    "id",
    "time",
    "event_type",
    "outcome",
    "actor_name",
    "target_kind",
    "target_name",
    "client_ip",
    "user_agent",
    "request_id",
    "details",
)


@audit_read_required
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    """List audit events with filters and pagination."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return TemplateResponse(
            request,
            "audit/log.html",
            {"form": form, "page": None, "types": event_types()},
            status=400,
        )
    events = audit_events(form.to_filter())
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "types": event_types(), "query": query.urlencode()}
    template = "audit/log.html#results" if request.htmx else "audit/log.html"
    return TemplateResponse(request, template, context)


def _export_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    for event in events:
        record = {name: getattr(event, name) for name in EXPORT_FIELDS}
        if event.current_type != event.event_type:
            # Old rows: today's name for readers, the stored one because the chain hashes it.
            record["event_type"], record["stored_event_type"] = event.current_type, event.event_type
        yield json.dumps(record, cls=DjangoJSONEncoder, sort_keys=True) + "\n"


@audit_read_required
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Stream the filtered audit events as JSON Lines."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            "Invalid filter: "
            + "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items()),
            status=400,
            content_type="text/plain",
        )
    events = audit_events(form.to_filter()).iterator(chunk_size=1000)
    response = StreamingHttpResponse(_export_lines(events), content_type="application/jsonl")
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = 'attachment; filename="rolegate-audit.jsonl"'
    return response
