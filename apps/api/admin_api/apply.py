"""Roles as code: ``POST /apply`` plans or applies resource documents like ``manage.py apply``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Schema
from pydantic import Field

from apps.api.admin_api.shared import (
    AdminErrorOut,
    AdminRouter,
    ValidationErrorOut,
    caller,
    refused,
)
from apps.api.http import Answer, JsonObject
from apps.api.scoped_auth import DEFERRED, ScopedBearer, require_scopes
from apps.core.registry import ResourceError, get_kind

router = AdminRouter()

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
            actor=caller(request),
            source=payload.source,
            prune=payload.prune,
            dry_run=payload.dry_run,
        )
    except ResourceError as error:
        return refused(error)
    return {"applied": not payload.dry_run, "plan": [entry.as_dict() for entry in plan]}
