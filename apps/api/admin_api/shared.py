"""What every topic of the admin API shares: its router, error and page schemas, and helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from apps.accounts.models import User
from apps.api.http import Answer, ApiHttpRequest, JsonObject
from apps.api.pagination import page_queryset
from apps.core.identity import Actor
from apps.core.registry import (
    Document,
    ResourceError,
    ResourceExists,
    ResourceNotFound,
    document_header,
)


class AdminRouter(Router):
    """A topic's router, whose operations keep the ids they had in the one-module admin API.

    ninja names an operation ``<module>_<function>``; clients generated from openapi.json use
    those ids, so moving an endpoint between the package's modules must not change them.
    """

    def add_api_operation(
        self,
        path: str,
        methods: list[str],
        view_func: Callable[..., Any],
        *,
        operation_id: str | None = None,
        **options: Any,
    ) -> None:
        """Register the operation under ``apps_api_admin_api_<function>`` unless given an id."""
        operation_id = operation_id or f"apps_api_admin_api_{view_func.__name__}"
        super().add_api_operation(path, methods, view_func, operation_id=operation_id, **options)


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


M = TypeVar("M", bound=Model)


def page_of(
    queryset: QuerySet[M],
    page: PageIn,
    out: Callable[[M], JsonObject],
    *,
    key: str = "name",
    search: Q | None = None,
) -> JsonObject:
    """One page of `queryset` in `key` order, narrowed by `search` when given: the body of
    every admin list (`{"items": [...], "next_cursor": ...}`)."""
    if search is not None:
        queryset = queryset.filter(search)
    rows, next_cursor = page_queryset(
        queryset, keys=(key,), descending=False, limit=page.limit, cursor=page.cursor
    )
    return {"items": [out(row) for row in rows], "next_cursor": next_cursor}


def caller(request: HttpRequest) -> User:
    """The user that the scoped token authenticated."""
    return cast(ApiHttpRequest, request).auth


def field_errors(message: str) -> list[dict[str, str]]:
    """The ``field: message; …`` parts of a refusal, one entry per field."""
    errors = []
    for part in message.split("; "):
        field, sep, text = part.partition(": ")
        errors.append({"field": field, "message": text} if sep else {"field": "", "message": part})
    return errors


def refused(error: ResourceError) -> Answer:
    """The answer to a refused write: 404 not_found, 409 already_exists, else 400 invalid."""
    if isinstance(error, ResourceNotFound):
        return Status(404, {"detail": str(error), "code": "not_found"})
    if isinstance(error, ResourceExists):
        return Status(409, {"detail": str(error), "code": "already_exists"})
    detail = str(error)
    return Status(400, {"detail": detail, "code": "invalid", "errors": field_errors(detail)})


def apply_document(document: Document, *, actor: Actor, force: bool) -> str:
    """Validate a document's header like the YAML loader, then apply it through its kind."""
    from django.db import transaction

    kind, name = document_header(document)
    with transaction.atomic():
        return kind.apply(document, actor=actor, force=force) or name
