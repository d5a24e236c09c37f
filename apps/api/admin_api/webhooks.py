"""The admin API on webhook endpoints and their delivery log (secrets are write-only)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.http import HttpRequest
from ninja import Query, Schema, Status
from pydantic import Field

from apps.api.admin_api.shared import AdminErrorOut, AdminRouter, PageIn, caller, page_of
from apps.api.http import Answer, JsonObject, NoContent
from apps.api.pagination import page_queryset
from apps.api.scoped_auth import scoped

if TYPE_CHECKING:
    from apps.webhooks.models import WebhookEndpoint

router = AdminRouter()


class WebhookIn(Schema):
    """An endpoint: where, which events, in which format, signed with `secret` (write-only)."""

    url: str = Field(min_length=1, max_length=2000)
    secret: str = Field(min_length=16, max_length=200)
    event_types: list[str] = Field(min_length=1, max_length=50)
    payload_format: str = Field(default="json", pattern="^(json|slack)$")
    enabled: bool = True


class WebhookOut(Schema):
    """An endpoint as admins see it (never its secret), with why it was disabled."""

    name: str
    url: str
    event_types: list[str]
    payload_format: str
    enabled: bool
    disabled_reason: str
    consecutive_failures: int


class WebhookPage(Schema):
    """A page of endpoints, by name."""

    items: list[WebhookOut]
    next_cursor: str | None


class AttemptOut(Schema):
    """One attempt of a delivery."""

    number: int
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int
    will_retry: bool


class DeliveryOut(Schema):
    """One event delivered (or being delivered) to the endpoint, with every attempt."""

    id: int
    event_id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut]


class DeliveryPage(Schema):
    """A page of deliveries, newest first."""

    items: list[DeliveryOut]
    next_cursor: str | None


def _webhook_out(endpoint: WebhookEndpoint) -> JsonObject:
    return {field: getattr(endpoint, field) for field in WebhookOut.model_fields}


def _webhook(name: str) -> WebhookEndpoint | None:
    from apps.webhooks.models import WebhookEndpoint

    return WebhookEndpoint.objects.filter(name=name).first()


def _no_webhook(name: str) -> Answer:
    return Status(404, {"detail": f"webhook endpoint {name!r} not found", "code": "not_found"})


@router.get(
    "/webhooks",
    auth=scoped("webhooks:write"),
    response={200: WebhookPage, 400: AdminErrorOut},
    tags=["webhooks"],
    summary="List webhook endpoints",
)
def webhooks_list(request: HttpRequest, page: Query[PageIn]) -> JsonObject:
    """Every endpoint, by name (secrets are never returned)."""
    from apps.webhooks.models import WebhookEndpoint

    return page_of(WebhookEndpoint.objects.all(), page, _webhook_out)


@router.put(
    "/webhooks/{name}",
    auth=scoped("webhooks:write"),
    response={200: WebhookOut, 400: AdminErrorOut},
    tags=["webhooks"],
    summary="Create or replace a webhook endpoint",
)
def webhooks_put(request: HttpRequest, name: str, payload: WebhookIn) -> Answer:
    """Create or replace an endpoint (audited, without the secret)."""
    from apps.webhooks import services

    # WebhookInvalid is a DomainError: the API's handler answers 400 invalid.
    saved = services.webhook_endpoint_save(
        actor=caller(request),
        name=name,
        url=payload.url,
        secret=payload.secret,
        event_types=payload.event_types,
        payload_format=payload.payload_format,
        enabled=payload.enabled,
    )
    return Status(200, _webhook_out(saved))


@router.delete(
    "/webhooks/{name}",
    auth=scoped("webhooks:write"),
    response={204: None, 404: AdminErrorOut},
    tags=["webhooks"],
    summary="Delete a webhook endpoint and its delivery log",
)
def webhooks_delete(request: HttpRequest, name: str) -> Answer | NoContent:
    """Delete an endpoint."""
    from apps.webhooks import services

    endpoint = _webhook(name)
    if endpoint is None:
        return _no_webhook(name)
    services.webhook_endpoint_delete(actor=caller(request), endpoint=endpoint)
    return Status(204, None)


@router.get(
    "/webhooks/{name}/deliveries",
    auth=scoped("webhooks:write"),
    response={200: DeliveryPage, 400: AdminErrorOut, 404: AdminErrorOut},
    tags=["webhooks"],
    summary="An endpoint's delivery log, newest first, with every attempt",
)
def webhooks_deliveries(
    request: HttpRequest, name: str, page: Query[PageIn]
) -> Answer | JsonObject:
    """The deliveries of one endpoint."""
    endpoint = _webhook(name)
    if endpoint is None:
        return _no_webhook(name)
    rows, next_cursor = page_queryset(
        endpoint.deliveries.prefetch_related("log"),
        keys=("id",),
        descending=True,
        limit=page.limit,
        cursor=page.cursor,
    )
    items = [
        {
            **{field: getattr(row, field) for field in DeliveryOut.model_fields if field != "log"},
            "log": [
                {field: getattr(attempt, field) for field in AttemptOut.model_fields}
                for attempt in row.log.all()
            ],
        }
        for row in rows
    ]
    return {"items": items, "next_cursor": next_cursor}
