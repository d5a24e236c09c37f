"""The admin API on integrations: CRUD from their documents, "sync now" and their sync runs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Schema, Status

from apps.api.admin_api.shared import (
    AdminErrorOut,
    AdminRouter,
    PageIn,
    ValidationErrorOut,
    apply_document,
    caller,
    page_of,
    refused,
)
from apps.api.http import Answer, JsonObject, NoContent, error_answer
from apps.api.pagination import page_queryset
from apps.api.scoped_auth import scoped
from apps.core.registry import Document, ResourceError, ResourceNotFound, get_kind

if TYPE_CHECKING:
    from apps.integrations.models import Integration

router = AdminRouter()


class IntegrationOut(Schema):
    """An integration document (as ``manage.py get``) with its sync health."""

    name: str
    document: dict[str, Any]
    health: dict[str, Any]


class IntegrationPage(Schema):
    """A page of integrations, by name."""

    items: list[IntegrationOut]
    next_cursor: str | None


class IntegrationIn(Schema):
    """An integration document, exactly as ``manage.py create -f`` takes it (JSON here)."""

    kind: str = "integration"
    sub_kind: str | None = None
    version: str | None = None
    metadata: dict[str, Any]
    spec: dict[str, Any]


class SyncRunOut(Schema):
    """One sync run: what it did and how it ended."""

    id: int
    trigger: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    profiles_seen: int
    profiles_synced: int
    apps_created: int
    apps_updated: int
    apps_deleted: int
    error_message: str


class SyncRunPage(Schema):
    """A page of sync runs, newest first."""

    items: list[SyncRunOut]
    next_cursor: str | None


class SyncQueuedOut(Schema):
    """Whether the sync was queued."""

    queued: str


def _integration_out(integration: Integration) -> JsonObject:
    from apps.integrations import selectors
    from apps.integrations.kinds import serialize

    health = selectors.integration_health(integration)
    return {
        "name": integration.name,
        "document": serialize(integration),
        "health": {
            "state": health.state,
            "summary": health.summary,
            "consecutive_failures": health.consecutive_failures,
            "last_success_at": health.last_success_at,
        },
    }


def _integration_or_404(name: str) -> Integration | None:
    from apps.integrations.selectors import integration_by_name

    return integration_by_name(name)


def _saved_integration(name: str) -> Integration:
    """The integration just written (it exists: the write succeeded in this request)."""
    integration = _integration_or_404(name)
    assert integration is not None
    return integration


def _no_integration(name: str) -> Answer:
    return Status(404, {"detail": f"integration {name!r} not found", "code": "not_found"})


@router.get(
    "/integrations",
    auth=scoped("integrations:read"),
    response={200: IntegrationPage, 400: AdminErrorOut},
    tags=["integrations"],
    summary="List integrations with their sync health",
)
def integrations_list(request: HttpRequest, page: Query[PageIn]) -> JsonObject:
    """Every integration, by name."""
    from apps.integrations.models import Integration

    return page_of(
        Integration.objects.all(),
        page,
        _integration_out,
        search=Q(name__icontains=page.q) if page.q else None,
    )


@router.get(
    "/integrations/{name}",
    auth=scoped("integrations:read"),
    response={200: IntegrationOut, 404: AdminErrorOut},
    tags=["integrations"],
    summary="One integration and its status",
)
def integrations_get(request: HttpRequest, name: str) -> Answer:
    """One integration: its document, last sync and health."""
    integration = _integration_or_404(name)
    if integration is None:
        return _no_integration(name)
    return Status(200, _integration_out(integration))


def _integration_document(payload: IntegrationIn, name: str | None = None) -> Document:
    document = payload.dict(exclude_none=True)
    if name is not None:
        document["metadata"] = {**document.get("metadata", {}), "name": name}
    return document


@router.post(
    "/integrations",
    auth=scoped("integrations:write"),
    response={201: IntegrationOut, 400: ValidationErrorOut, 409: AdminErrorOut},
    tags=["integrations"],
    summary="Create an integration from its document",
)
def integrations_create(request: HttpRequest, payload: IntegrationIn) -> Answer:
    """Create an integration (validated like ``manage.py create -f``)."""
    try:
        if payload.kind != "integration":
            raise ResourceError("must be 'integration' here", field="kind")
        name = apply_document(_integration_document(payload), actor=caller(request), force=False)
    except ResourceError as error:
        return refused(error)
    return Status(201, _integration_out(_saved_integration(name)))


@router.put(
    "/integrations/{name}",
    auth=scoped("integrations:write"),
    response={200: IntegrationOut, 400: ValidationErrorOut, 404: AdminErrorOut},
    tags=["integrations"],
    summary="Replace an integration's spec",
)
def integrations_replace(request: HttpRequest, name: str, payload: IntegrationIn) -> Answer:
    """Replace an existing integration (the name comes from the path)."""
    if _integration_or_404(name) is None:
        return _no_integration(name)
    try:
        if payload.kind != "integration":
            raise ResourceError("must be 'integration' here", field="kind")
        apply_document(_integration_document(payload, name), actor=caller(request), force=True)
    except ResourceError as error:
        return refused(error)
    return Status(200, _integration_out(_saved_integration(name)))


@router.delete(
    "/integrations/{name}",
    auth=scoped("integrations:write"),
    response={204: None, 404: AdminErrorOut, 409: AdminErrorOut},
    tags=["integrations"],
    summary="Delete an integration and its apps",
)
def integrations_delete(request: HttpRequest, name: str) -> Answer | NoContent:
    """Delete an integration."""
    try:
        get_kind("integration").delete(name, actor=caller(request))
    except ResourceNotFound as error:
        return error_answer(404, str(error), "not_found")
    except ResourceError as error:
        return error_answer(409, str(error), "conflict")
    return Status(204, None)


@router.post(
    "/integrations/{name}/sync",
    auth=scoped("integrations:write"),
    response={202: SyncQueuedOut, 404: AdminErrorOut, 409: AdminErrorOut, 503: AdminErrorOut},
    tags=["integrations"],
    summary="Queue a profile sync now",
)
def integrations_sync(request: HttpRequest, name: str) -> Answer:
    """Queue a sync like the console's "Sync now" button (audited by the service)."""
    from apps.integrations import services

    if _integration_or_404(name) is None:
        return _no_integration(name)
    # SyncDisabled is a DomainError: the API's handler answers 409 sync_refused.
    queued = services.integration_sync_request(actor=caller(request), name=name, trigger="admin")
    if queued == services.SyncQueued.NOT_QUEUED:
        return Status(
            503,
            {
                "detail": "The task queue did not answer in time; nothing was queued.",
                "code": "unavailable",
            },
        )
    return Status(202, {"queued": str(queued)})


@router.get(
    "/integrations/{name}/runs",
    auth=scoped("integrations:read"),
    response={200: SyncRunPage, 400: AdminErrorOut, 404: AdminErrorOut},
    tags=["integrations"],
    summary="An integration's sync runs, newest first",
)
def integrations_runs(request: HttpRequest, name: str, page: Query[PageIn]) -> Answer | JsonObject:
    """The sync runs of one integration."""
    integration = _integration_or_404(name)
    if integration is None:
        return _no_integration(name)
    rows, next_cursor = page_queryset(
        integration.sync_runs.all(),
        keys=("id",),
        descending=True,
        limit=page.limit,
        cursor=page.cursor,
    )
    items = [{field: getattr(run, field) for field in SyncRunOut.model_fields} for run in rows]
    return {"items": items, "next_cursor": next_cursor}
