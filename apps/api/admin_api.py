"""The admin API (issue 25): roles, integrations and audit events, for automation tokens.

Every endpoint names the scope it needs (apps/api/scopes.py); writes go through the same kinds
and services as ``manage.py create`` and the web editor, so validation and messages are theirs.
Lists are cursor-paginated (apps/api/pagination.py); errors are ``{detail, code}``. A cursor or
`since` the list did not make raises a DomainError: the API's handler answers 400
``invalid_cursor``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.accounts.models import User
from apps.api.http import Answer, ApiHttpRequest, JsonObject, NoContent, error_answer
from apps.api.pagination import page_queryset
from apps.api.scoped_auth import DEFERRED, ScopedBearer, require_scopes, scoped
from apps.core.identity import Actor
from apps.core.registry import (
    Document,
    ResourceError,
    ResourceExists,
    ResourceNotFound,
    document_header,
    get_kind,
)

if TYPE_CHECKING:
    from apps.access.models import Role
    from apps.audit.models import AuditEvent
    from apps.audit.selectors import AuditFilter
    from apps.integrations.models import Integration
    from apps.webhooks.models import WebhookEndpoint

router = Router()


class AdminErrorOut(Schema):
    """An error: one human-readable line and a stable machine code."""

    detail: str
    code: str


class FieldErrorOut(Schema):
    """One invalid field, named by its YAML path."""

    field: str
    message: str


class ValidationErrorOut(Schema):
    """A refused document: the same messages as the editor and ``manage.py create``."""

    detail: str
    code: str
    errors: list[FieldErrorOut] = []


class PageIn(Schema):
    """Cursor pagination of every list."""

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str = Field(default="", max_length=500)
    q: str = Field(default="", max_length=200)


def _caller(request: HttpRequest) -> User:
    return cast(ApiHttpRequest, request).auth


def _field_errors(message: str) -> list[dict[str, str]]:
    errors = []
    for part in message.split("; "):
        field, sep, text = part.partition(": ")
        errors.append({"field": field, "message": text} if sep else {"field": "", "message": part})
    return errors


def _refused(error: ResourceError) -> Answer:
    if isinstance(error, ResourceNotFound):
        return Status(404, {"detail": str(error), "code": "not_found"})
    if isinstance(error, ResourceExists):
        return Status(409, {"detail": str(error), "code": "already_exists"})
    detail = str(error)
    return Status(400, {"detail": detail, "code": "invalid", "errors": _field_errors(detail)})


def _apply_document(document: Document, *, actor: Actor, force: bool) -> str:
    """Validate a document's header like the YAML loader, then apply it through its kind."""
    from django.db import transaction

    kind, name = document_header(document)
    with transaction.atomic():
        return kind.apply(document, actor=actor, force=force) or name


# --- roles -------------------------------------------------------------------------------------


class RoleOut(Schema):
    """A role as ``manage.py get role/NAME`` prints it."""

    name: str
    version: str
    revision: int
    spec: dict[str, Any]


class RolePage(Schema):
    """A page of roles, by name."""

    items: list[RoleOut]
    next_cursor: str | None


class RoleIn(Schema):
    """A new role: name, spec version and spec (the YAML document's `spec`)."""

    name: str = Field(min_length=1, max_length=64)
    version: str = Field(default="v7", max_length=8)
    spec: dict[str, Any]


class RoleReplaceIn(Schema):
    """A role's new spec; give `revision` to refuse overwriting someone else's newer change."""

    version: str | None = Field(default=None, max_length=8)
    spec: dict[str, Any]
    revision: int | None = None


def _role_out(role: Role) -> JsonObject:
    return {
        "name": role.name,
        "version": role.version,
        "revision": role.revision,
        "spec": role.spec,
    }


def _role_document(name: str, version: str, spec: dict[str, Any]) -> Document:
    return {"kind": "role", "version": version, "metadata": {"name": name}, "spec": spec}


@router.get(
    "/roles",
    auth=scoped("roles:read"),
    response={200: RolePage, 400: AdminErrorOut},
    tags=["roles"],
    summary="List roles (q filters by name)",
)
def roles_list(request: HttpRequest, page: Query[PageIn]) -> JsonObject:
    """Every role, by name, a page at a time."""
    from apps.access.selectors import role_list

    roles = role_list()
    if page.q:
        roles = roles.filter(name__icontains=page.q)
    rows, next_cursor = page_queryset(
        roles, keys=("name",), descending=False, limit=page.limit, cursor=page.cursor
    )
    return {"items": [_role_out(role) for role in rows], "next_cursor": next_cursor}


@router.get(
    "/roles/{name}",
    auth=scoped("roles:read"),
    response={200: RoleOut, 404: AdminErrorOut},
    tags=["roles"],
    summary="One role",
)
def roles_get(request: HttpRequest, name: str) -> Answer:
    """One role by name."""
    from apps.access.selectors import role_get

    role = role_get(name)
    if role is None:
        return Status(404, {"detail": f"role {name!r} not found", "code": "not_found"})
    return Status(200, _role_out(role))


@router.post(
    "/roles",
    auth=scoped("roles:write"),
    response={201: RoleOut, 400: ValidationErrorOut, 403: AdminErrorOut, 409: AdminErrorOut},
    tags=["roles"],
    summary="Create a role (validated like the editor and YAML)",
)
def roles_create(request: HttpRequest, payload: RoleIn) -> Answer:
    """Create a role; a role of that name already existing is a 409."""
    from apps.access.selectors import role_get

    held = _not_editable(request, payload.name)
    if held is not None:  # nobody writes a role they hold, not even by creating it
        return held
    document = _role_document(payload.name, payload.version, payload.spec)
    try:
        _apply_document(document, actor=_caller(request), force=False)
    except ResourceError as error:
        return _refused(error)
    role = role_get(payload.name)
    assert role is not None
    return Status(201, _role_out(role))


def _not_editable(request: HttpRequest, name: str) -> Answer | None:
    from apps.access.selectors import role_editable_by

    if role_editable_by(_caller(request), name):
        return None
    return Status(
        403,
        {
            "detail": f"You hold role {name!r}: only a superuser may change or delete it.",
            "code": "role_held",
        },
    )


@router.put(
    "/roles/{name}",
    auth=scoped("roles:write"),
    response={
        200: RoleOut,
        400: ValidationErrorOut,
        403: AdminErrorOut,
        404: AdminErrorOut,
        409: AdminErrorOut,
    },
    tags=["roles"],
    summary="Replace a role's spec",
)
def roles_replace(request: HttpRequest, name: str, payload: RoleReplaceIn) -> Answer:
    """Replace a role; unchanged input leaves it (and its revision) as it was."""
    from apps.access import services
    from apps.access.kinds import _spec_error
    from rbac.spec import RoleSpecError

    refused = _not_editable(request, name)
    if refused is not None:
        return refused
    try:
        role = services.role_update(
            actor=_caller(request),
            name=name,
            spec=payload.spec,
            version=payload.version,
            expected_revision=payload.revision,
        )
    except RoleSpecError as error:  # RoleNotFound, RoleConflict: DomainErrors (404, 409)
        return _refused(_spec_error(error))
    return Status(200, _role_out(role))


@router.delete(
    "/roles/{name}",
    auth=scoped("roles:write"),
    response={204: None, 403: AdminErrorOut, 404: AdminErrorOut, 409: AdminErrorOut},
    tags=["roles"],
    summary="Delete a role no user holds",
)
def roles_delete(request: HttpRequest, name: str) -> Answer | NoContent:
    """Delete a role; one still assigned is a 409 naming its holders."""
    refused = _not_editable(request, name)
    if refused is not None:
        return refused
    try:
        get_kind("role").delete(name, actor=_caller(request))
    except ResourceNotFound as error:
        return error_answer(404, str(error), "not_found")
    except ResourceError as error:
        return error_answer(409, str(error), "in_use")
    return Status(204, None)


# --- integrations ------------------------------------------------------------------------------


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

    integrations = Integration.objects.all()
    if page.q:
        integrations = integrations.filter(name__icontains=page.q)
    rows, next_cursor = page_queryset(
        integrations, keys=("name",), descending=False, limit=page.limit, cursor=page.cursor
    )
    return {"items": [_integration_out(row) for row in rows], "next_cursor": next_cursor}


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
        name = _apply_document(_integration_document(payload), actor=_caller(request), force=False)
    except ResourceError as error:
        return _refused(error)
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
        _apply_document(_integration_document(payload, name), actor=_caller(request), force=True)
    except ResourceError as error:
        return _refused(error)
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
        get_kind("integration").delete(name, actor=_caller(request))
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
    queued = services.integration_sync_request(actor=_caller(request), name=name, trigger="admin")
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


# --- audit events ------------------------------------------------------------------------------


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


# --- roles as code -----------------------------------------------------------------------------

# The scope a document of each kind needs (and with it the owner's capability).
KIND_SCOPES = {
    "role": "roles:write",
    "user": "users:write",
    "oidc_connector": "users:write",
    "integration": "integrations:write",
}


def _kind_name(value: object) -> str:
    try:
        return get_kind(str(value)).kind
    except ResourceError:
        return ""


class ApplyIn(Schema):
    """Documents (JSON, or one multi-document YAML text) to plan or apply, like manage.py apply."""

    documents: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    yaml: str = Field(default="", max_length=1_000_000)
    source: str = Field(default="", max_length=100)
    prune: bool = False
    dry_run: bool = True


class FieldChangeOut(Schema):
    """One changed field."""

    path: str
    before: Any = None
    after: Any = None


class PlanEntryOut(Schema):
    """What applying does to one resource."""

    action: str
    kind: str
    name: str
    changes: list[FieldChangeOut]


class PlanOut(Schema):
    """The plan and whether it was applied (false for a dry run)."""

    applied: bool
    plan: list[PlanEntryOut]


@router.post(
    "/apply",
    auth=ScopedBearer(DEFERRED),
    response={200: PlanOut, 400: ValidationErrorOut, 403: AdminErrorOut},
    tags=["roles as code"],
    summary="Plan (dry_run, the default) or apply resource documents, optionally pruning",
)
def apply_documents(request: HttpRequest, payload: ApplyIn) -> Answer | JsonObject:
    """The API of ``manage.py apply``: needs the write scope of every kind it touches."""
    from apps.core.apply import plan_apply
    from apps.core.models import ManagedResource
    from apps.core.registry import load_documents

    try:
        documents: list[Any] = list(payload.documents)
        if payload.yaml:
            documents += load_documents(payload.yaml)
        if not documents:
            raise ResourceError("give documents or yaml")
        kinds = {_kind_name(d.get("kind")) for d in documents if isinstance(d, dict)}
        if payload.prune and payload.source:
            owned = ManagedResource.objects.filter(source=payload.source)
            kinds |= set(owned.values_list("kind", flat=True))
        scopes = [KIND_SCOPES[kind] for kind in kinds if kind in KIND_SCOPES]
        require_scopes(request, scopes or ["roles:write"])
        plan = plan_apply(
            documents,
            actor=_caller(request),
            source=payload.source,
            prune=payload.prune,
            dry_run=payload.dry_run,
        )
    except ResourceError as error:
        return _refused(error)
    return {"applied": not payload.dry_run, "plan": [entry.as_dict() for entry in plan]}


# --- webhooks ----------------------------------------------------------------------------------


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

    rows, next_cursor = page_queryset(
        WebhookEndpoint.objects.all(),
        keys=("name",),
        descending=False,
        limit=page.limit,
        cursor=page.cursor,
    )
    return {"items": [_webhook_out(row) for row in rows], "next_cursor": next_cursor}


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
        actor=_caller(request),
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
    services.webhook_endpoint_delete(actor=_caller(request), endpoint=endpoint)
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


# --- users: roles and traits -------------------------------------------------------------------


class UserOut(Schema):
    """A user's access: assigned roles, internal traits, and the identity provider's traits."""

    username: str
    email: str
    is_active: bool
    is_staff: bool
    roles: list[str]
    traits: dict[str, list[str]]
    external_traits: dict[str, Any]


class UserPage(Schema):
    """A page of users, by username."""

    items: list[UserOut]
    next_cursor: str | None


class UserRolesIn(Schema):
    """The user's roles, replacing the current ones."""

    roles: list[str] = Field(max_length=200)


class UserTraitsIn(Schema):
    """The user's internal traits, replacing the current ones (external ones are the IdP's)."""

    traits: dict[str, list[str]]


def _user_out(user: User) -> JsonObject:
    return {
        "username": user.username,
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "roles": sorted(user.roles or []),
        "traits": dict(user.traits or {}),
        "external_traits": dict(user.external_traits or {}),
    }


def _user(username: str) -> User | None:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=username).first()


def _no_user(username: str) -> Answer:
    return Status(404, {"detail": f"user {username!r} not found", "code": "not_found"})


@router.get(
    "/users",
    auth=scoped("users:read"),
    response={200: UserPage, 400: AdminErrorOut},
    tags=["users"],
    summary="List users with their roles and traits (q: username, e-mail or role)",
)
def users_list(request: HttpRequest, page: Query[PageIn]) -> JsonObject:
    """Every user, by username."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    users = get_user_model().objects.all()
    if page.q:
        users = users.filter(
            Q(username__icontains=page.q) | Q(email__icontains=page.q) | Q(roles__contains=[page.q])
        )
    rows, next_cursor = page_queryset(
        users, keys=("username",), descending=False, limit=page.limit, cursor=page.cursor
    )
    return {"items": [_user_out(row) for row in rows], "next_cursor": next_cursor}


@router.get(
    "/users/{username}",
    auth=scoped("users:read"),
    response={200: UserOut, 404: AdminErrorOut},
    tags=["users"],
    summary="One user's roles and traits",
)
def users_get(request: HttpRequest, username: str) -> Answer:
    """One user."""
    user = _user(username)
    if user is None:
        return _no_user(username)
    return Status(200, _user_out(user))


def _user_change(
    request: HttpRequest, username: str, change: Callable[[Actor, User], User]
) -> Answer:
    """Apply `change` (a `user_admin` setter) as the caller to the user, mapping its refusals."""
    from django.core.exceptions import PermissionDenied

    from apps.access import user_admin

    user = _user(username)
    if user is None:
        return _no_user(username)
    try:
        changed = change(_caller(request), user)
    except PermissionDenied as error:
        return Status(403, {"detail": str(error), "code": "forbidden"})
    except user_admin.UserChangeInvalid as error:
        errors = [{"field": error.field, "message": error.message}] if error.field else []
        return Status(400, {"detail": error.message, "code": "invalid", "errors": errors})
    return Status(200, _user_out(changed))


@router.put(
    "/users/{username}/roles",
    auth=scoped("users:write"),
    response={200: UserOut, 400: ValidationErrorOut, 403: AdminErrorOut, 404: AdminErrorOut},
    tags=["users"],
    summary="Replace a user's roles (audited with a before/after diff)",
)
def users_set_roles(request: HttpRequest, username: str, payload: UserRolesIn) -> Answer:
    """Replace the roles; unchanged input writes nothing; never your own (unless superuser)."""
    from apps.access.user_admin import set_user_roles

    return _user_change(
        request,
        username,
        lambda actor, user: set_user_roles(actor, user, payload.roles, via="api"),
    )


@router.put(
    "/users/{username}/traits",
    auth=scoped("users:write"),
    response={200: UserOut, 400: ValidationErrorOut, 403: AdminErrorOut, 404: AdminErrorOut},
    tags=["users"],
    summary="Replace a user's internal traits (audited with a before/after diff)",
)
def users_set_traits(request: HttpRequest, username: str, payload: UserTraitsIn) -> Answer:
    """Replace the internal traits; the identity provider's traits are never edited."""
    from apps.access.user_admin import set_user_traits

    return _user_change(
        request,
        username,
        lambda actor, user: set_user_traits(actor, user, payload.traits, via="api"),
    )
