"""The admin API on roles: list, read, create, replace and delete (never one the caller holds)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Schema, Status
from pydantic import Field

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
from apps.api.scoped_auth import scoped
from apps.core.registry import Document, ResourceError, ResourceNotFound, get_kind

if TYPE_CHECKING:
    from apps.access.models import Role

router = AdminRouter()


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

    return page_of(
        role_list(), page, _role_out, search=Q(name__icontains=page.q) if page.q else None
    )


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
        apply_document(document, actor=caller(request), force=False)
    except ResourceError as error:
        return refused(error)
    role = role_get(payload.name)
    assert role is not None
    return Status(201, _role_out(role))


def _not_editable(request: HttpRequest, name: str) -> Answer | None:
    from apps.access.selectors import role_editable_by

    if role_editable_by(caller(request), name):
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

    held = _not_editable(request, name)
    if held is not None:
        return held
    try:
        role = services.role_update(
            actor=caller(request),
            name=name,
            spec=payload.spec,
            version=payload.version,
            expected_revision=payload.revision,
        )
    except RoleSpecError as error:  # RoleNotFound, RoleConflict: DomainErrors (404, 409)
        return refused(_spec_error(error))
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
    held = _not_editable(request, name)
    if held is not None:
        return held
    try:
        get_kind("role").delete(name, actor=caller(request))
    except ResourceNotFound as error:
        return error_answer(404, str(error), "not_found")
    except ResourceError as error:
        return error_answer(409, str(error), "in_use")
    return Status(204, None)
