"""Access request endpoints of the CLI API (/api/v1/requests), mounted from apps/api/api.py.

Thin like the rest of the API: the same selectors and services as the web pages, so the
requester can no more review their own request here than anywhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from apps.access.engine.spec import format_duration
from apps.access.errors import AccessDenied
from apps.access.requests import selectors, services
from apps.access.requests.models import AccessRequest

router = Router(tags=["access requests"])
LIST_LIMIT = 100


class RequestErrorOut(Schema):
    """An error: one human-readable line and a stable machine code (as elsewhere in the API)."""

    detail: str
    code: str


class RequestCreateIn(Schema):
    """Roles to request, why, and for how long once approved (e.g. `4h`; default 1h)."""

    roles: list[str] = Field(min_length=1, max_length=services.MAX_ROLES)
    reason: str = Field(default="", max_length=services.MAX_REASON_LENGTH)
    duration: str = Field(default="", max_length=16)


class ReviewIn(Schema):
    """A reviewer's decision and comment."""

    decision: str = Field(pattern="^(approve|deny)$")
    comment: str = Field(default="", max_length=services.MAX_COMMENT_LENGTH)


class ReviewOut(Schema):
    """One review."""

    reviewer: str
    decision: str
    comment: str
    created_at: datetime


class RequestOut(Schema):
    """An access request as the CLI shows it."""

    id: str
    requester: str
    roles: list[str]
    reason: str
    duration: str
    state: str
    approvals_required: int
    denials_required: int
    created_at: datetime
    review_deadline: datetime
    access_starts_at: datetime | None
    access_ends_at: datetime | None
    ended_at: datetime | None
    reviews: list[ReviewOut]


def _caller(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _out(item: AccessRequest) -> dict[str, Any]:
    return {
        "id": str(item.pk),
        "requester": item.requester.get_username(),
        "roles": list(item.roles),
        "reason": item.reason,
        "duration": format_duration(item.duration),
        "state": item.state,
        "approvals_required": item.approvals_required,
        "denials_required": item.denials_required,
        "created_at": item.created_at,
        "review_deadline": item.review_deadline,
        "access_starts_at": item.access_starts_at,
        "access_ends_at": item.access_ends_at,
        "ended_at": item.ended_at,
        "reviews": [
            {
                "reviewer": review.reviewer.get_username(),
                "decision": review.decision,
                "comment": review.comment,
                "created_at": review.created_at,
            }
            for review in item.reviews.all()
        ],
    }


def _visible(request: HttpRequest, request_id: str) -> AccessRequest | None:
    return selectors.request_for_user(_caller(request), request_id)


def _not_found() -> Status[dict[str, str]]:
    return Status(404, {"detail": "No such access request.", "code": "request_not_found"})


@router.post(
    "",
    response={201: RequestOut, 400: RequestErrorOut, 403: RequestErrorOut},
    summary="Request roles for a while",
)
def request_create(request: HttpRequest, payload: RequestCreateIn) -> Any:
    """Create an access request; reviewers are notified."""
    try:
        created = services.access_request_create(
            actor=_caller(request),
            roles=payload.roles,
            reason=payload.reason,
            duration=payload.duration or None,
        )
    except AccessDenied as error:
        return Status(403, {"detail": error.message, "code": "request_not_allowed"})
    except services.RequestInvalid as error:
        return Status(400, {"detail": error.message, "code": "invalid_request"})
    visible = _visible(request, str(created.pk))
    assert visible is not None  # the requester always sees their own request
    return Status(201, _out(visible))


@router.get("", response=list[RequestOut], summary="Your access requests, newest first")
def request_list(request: HttpRequest) -> Any:
    """The caller's own requests (at most 100)."""
    return [_out(item) for item in selectors.requests_of(_caller(request))[:LIST_LIMIT]]


@router.get(
    "/{request_id}",
    response={200: RequestOut, 404: RequestErrorOut},
    summary="One access request (yours, one you may review, or any for staff)",
)
def request_show(request: HttpRequest, request_id: str) -> Any:
    """Show one request; unknown and hidden ids look the same."""
    item = _visible(request, request_id)
    if item is None:
        return _not_found()
    return Status(200, _out(item))


@router.post(
    "/{request_id}/reviews",
    response={
        200: RequestOut,
        400: RequestErrorOut,
        403: RequestErrorOut,
        404: RequestErrorOut,
        409: RequestErrorOut,
    },
    summary="Approve or deny a request you may review",
)
def request_review(request: HttpRequest, request_id: str, payload: ReviewIn) -> Any:
    """Review a request; never your own."""
    try:
        UUID(request_id)
    except ValueError:
        return _not_found()
    try:
        services.access_request_review(
            actor=_caller(request),
            request_id=request_id,
            decision=payload.decision,
            comment=payload.comment,
        )
    except services.RequestNotFound:
        return _not_found()
    except AccessDenied as error:
        return Status(403, {"detail": error.message, "code": "review_not_allowed"})
    except services.RequestNotPending as error:
        return Status(409, {"detail": error.message, "code": "request_closed"})
    except services.RequestInvalid as error:
        return Status(400, {"detail": error.message, "code": "invalid_request"})
    item = _visible(request, request_id)
    assert item is not None
    return Status(200, _out(item))


@router.post(
    "/{request_id}/cancel",
    response={200: RequestOut, 404: RequestErrorOut, 409: RequestErrorOut},
    summary="Withdraw your own pending request",
)
def request_cancel(request: HttpRequest, request_id: str) -> Any:
    """Withdraw a pending request; only its requester may."""
    try:
        services.access_request_cancel(actor=_caller(request), request_id=request_id)
    except services.RequestNotFound:
        return _not_found()
    except services.RequestNotPending as error:
        return Status(409, {"detail": error.message, "code": "request_closed"})
    item = _visible(request, request_id)
    assert item is not None
    return Status(200, _out(item))
