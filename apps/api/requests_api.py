"""Access request endpoints of the CLI API (/api/v1/requests), mounted from apps/api/api.py.

Thin like the rest of the API: the same selectors and services as the web pages, so the
requester can no more review their own request here than anywhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.access.errors import AccessDenied
from apps.access.requests import selectors, services
from apps.access.requests.models import AccessRequest
from apps.accounts.models import User
from apps.api.http import Answer, ApiHttpRequest, JsonObject
from apps.api.pagination import page_list, page_queryset
from apps.api.scoped_auth import scoped
from rbac.spec import format_duration

router = Router(tags=["access requests"])


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


def _caller(request: HttpRequest) -> User:
    return cast(ApiHttpRequest, request).auth


def _out(item: AccessRequest) -> JsonObject:
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


def _not_found() -> Answer:
    return Status(404, {"detail": "No such access request.", "code": "request_not_found"})


@router.post(
    "",
    response={201: RequestOut, 400: RequestErrorOut, 403: RequestErrorOut},
    summary="Request roles for a while",
)
def request_create(request: HttpRequest, payload: RequestCreateIn) -> Answer:
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
    # RequestInvalid is a DomainError: the API's handler answers 400 invalid_request.
    visible = _visible(request, str(created.pk))
    assert visible is not None  # the requester always sees their own request
    return Status(201, _out(visible))


class RequestPage(Schema):
    """A page of access requests; pass `next_cursor` back as `cursor` for the next one."""

    items: list[RequestOut]
    next_cursor: str | None


class RequestPageIn(Schema):
    """Cursor pagination."""

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str = Field(default="", max_length=500)


class DecisionIn(Schema):
    """Why the reviewer decides so (recorded with the review and in the audit log)."""

    reason: str = Field(default="", max_length=services.MAX_COMMENT_LENGTH)


@router.get(
    "",
    response={200: RequestPage, 400: RequestErrorOut},
    summary="Your access requests, newest first (cursor-paginated)",
)
def request_list(request: HttpRequest, page: Query[RequestPageIn]) -> Answer:
    """The caller's own requests, a page at a time."""
    rows, next_cursor = page_queryset(
        selectors.requests_of(_caller(request)),
        keys=("created_at", "id"),
        descending=True,
        limit=page.limit,
        cursor=page.cursor,
    )
    return Status(200, {"items": [_out(item) for item in rows], "next_cursor": next_cursor})


@router.get(
    "/queue",
    auth=scoped("requests:review"),
    response={200: RequestPage, 400: RequestErrorOut},
    summary="The reviewer's queue: pending requests of others you may review, soonest due first",
)
def request_queue(request: HttpRequest, page: Query[RequestPageIn]) -> Answer:
    """Pending requests the caller may review (the same rules as the web queue)."""
    rows, next_cursor = page_list(
        selectors.reviewable_requests(_caller(request)),
        key=lambda item: (item.review_deadline.isoformat(), str(item.pk)),
        limit=page.limit,
        cursor=page.cursor,
    )
    return Status(200, {"items": [_out(item) for item in rows], "next_cursor": next_cursor})


@router.get(
    "/{request_id}",
    response={200: RequestOut, 404: RequestErrorOut},
    summary="One access request (yours, one you may review, or any for staff)",
)
def request_show(request: HttpRequest, request_id: str) -> Answer:
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
def request_review(request: HttpRequest, request_id: str, payload: ReviewIn) -> Answer:
    """Review a request; never your own."""
    return _review(request, request_id, payload.decision, payload.comment)


def _review(request: HttpRequest, request_id: str, decision: str, comment: str) -> Answer:
    try:
        UUID(request_id)
    except ValueError:
        return _not_found()
    try:
        services.access_request_review(
            actor=_caller(request),
            request_id=request_id,
            decision=decision,
            comment=comment,
        )
    except AccessDenied as error:
        return Status(403, {"detail": error.message, "code": "review_not_allowed"})
    # RequestNotFound (404), RequestNotPending (409), RequestInvalid (400) are DomainErrors,
    # answered by the API's handler.
    item = _visible(request, request_id)
    assert item is not None
    return Status(200, _out(item))


@router.post(
    "/{request_id}/cancel",
    response={200: RequestOut, 404: RequestErrorOut, 409: RequestErrorOut},
    summary="Withdraw your own pending request",
)
def request_cancel(request: HttpRequest, request_id: str) -> Answer:
    """Withdraw a pending request; only its requester may."""
    # RequestNotFound (404), RequestNotPending (409): DomainErrors, answered by the handler.
    services.access_request_cancel(actor=_caller(request), request_id=request_id)
    item = _visible(request, request_id)
    assert item is not None
    return Status(200, _out(item))


_DECISION_RESPONSES: dict[int, type[Schema]] = {
    200: RequestOut,
    400: RequestErrorOut,
    403: RequestErrorOut,
    404: RequestErrorOut,
    409: RequestErrorOut,
}


@router.post(
    "/{request_id}/approve",
    auth=scoped("requests:review"),
    response=_DECISION_RESPONSES,
    summary="Approve a request you may review, with a reason",
)
def request_approve(request: HttpRequest, request_id: str, payload: DecisionIn) -> Answer:
    """Approve (the reviewer rules apply to the token's owner like anywhere else)."""
    return _review(request, request_id, "approve", payload.reason)


@router.post(
    "/{request_id}/deny",
    auth=scoped("requests:review"),
    response=_DECISION_RESPONSES,
    summary="Deny a request you may review, with a reason",
)
def request_deny(request: HttpRequest, request_id: str, payload: DecisionIn) -> Answer:
    """Deny, with the reason shown to the requester."""
    return _review(request, request_id, "deny", payload.reason)
