"""Writes on access requests: create, review, end, expire; each audited in its transaction.

Reviews lock the request row (`SELECT ... FOR UPDATE`) and re-check its state, deadline and the
reviewer's rights under the lock, so two reviewers deciding at once are each counted once and
exactly one of them resolves the request. A denial reaching its threshold wins: denials are
counted before approvals. Refusals are audited too, in their own transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.access.errors import AccessDenied
from apps.access.requests.models import AccessGrant, AccessRequest, AccessReview
from apps.access.requests.selectors import (
    can_review,
    effective_request_policy,
    reviewers_for,
    unrequestable_roles,
)
from apps.accounts.models import User
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.capabilities import ACCESS_ADMIN, has_capability
from apps.core.errors import DomainError
from apps.core.hooks import session_revocation
from rbac.spec import format_duration, parse_duration

__all__ = [
    "DEFAULT_REVIEW_TTL",
    "MAX_COMMENT_LENGTH",
    "MAX_REASON_LENGTH",
    "ExpiryResult",
    "RequestInvalid",
    "RequestNotFound",
    "RequestNotPending",
    "access_request_cancel",
    "access_request_create",
    "access_request_end",
    "access_request_review",
    "access_requests_expire",
    "review_ttl",
]

logger = logging.getLogger("apps.access.requests")

DEFAULT_REVIEW_TTL = timedelta(hours=24)
DEFAULT_ACCESS_DURATION = timedelta(hours=1)
MAX_REASON_LENGTH = 1000
MAX_COMMENT_LENGTH = 1000
MAX_ROLES = 20
TARGET = "access_request"


class RequestInvalid(DomainError, ValueError):
    """Bad input (unknown role, missing reason, duration over policy); `message` is for users."""

    code = "invalid_request"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)


class RequestNotFound(DomainError, LookupError):
    """No request with that id is visible to the actor."""

    code = "request_not_found"
    status = 404

    def __init__(self, message: str = "No such access request.") -> None:
        super().__init__(message)


class RequestNotPending(DomainError, ValueError):
    """The request was already decided or has expired; the review changes nothing."""

    code = "request_closed"
    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class ExpiryResult:
    """What one expiry run did."""

    expired: int
    ended: int


def review_ttl() -> timedelta:
    """How long reviewers have before a pending request expires (default 24h)."""
    seconds = getattr(settings, "ROLEGATE_ACCESS_REQUEST_REVIEW_TTL", None)
    return timedelta(seconds=int(seconds)) if seconds else DEFAULT_REVIEW_TTL


def _refuse(
    *,
    actor: User,
    event_type: str,
    target: str,
    message: str,
    details: dict[str, Any],
    target_kind: str = TARGET,
) -> None:
    """Audit a refusal in its own transaction (the caller then raises)."""
    with transaction.atomic():
        audit_record(
            event_type=event_type,
            actor=actor,
            outcome=AuditEvent.Outcome.DENIED,
            target_kind=target_kind,
            target_name=target,
            details={**details, "reason": message},
        )


def _parse_roles(roles: object) -> list[str]:
    if isinstance(roles, str):
        roles = roles.split(",")
    if not isinstance(roles, (list, tuple)):
        raise RequestInvalid("roles must be a list of role names")
    names = list(dict.fromkeys(str(r).strip() for r in roles if str(r).strip()))
    if not names:
        raise RequestInvalid("Name at least one role to request.")
    if len(names) > MAX_ROLES:
        raise RequestInvalid(f"Request at most {MAX_ROLES} roles at once.")
    return names


def _parse_duration(duration: timedelta | str | None, maximum: timedelta) -> timedelta:
    if duration is None or duration == "":
        return min(DEFAULT_ACCESS_DURATION, maximum)
    if isinstance(duration, str):
        try:
            duration = parse_duration(duration.strip())
        except ValueError as exc:
            raise RequestInvalid(str(exc)) from None
    if duration <= timedelta(0):
        raise RequestInvalid("The duration must be positive, like '30m' or '4h'.")
    if duration > maximum:
        raise RequestInvalid(
            f"{format_duration(duration)} is longer than your roles allow for these roles "
            f"(at most {format_duration(maximum)})."
        )
    return duration


def _notify_reviewers(request_id: UUID) -> None:
    """E-mail the request's reviewers; best effort, after commit, never fails the request."""
    try:
        access_request = AccessRequest.objects.select_related("requester").get(pk=request_id)
        recipients = [user.email for user in reviewers_for(access_request)]
        if not recipients:
            return
        base = str(getattr(settings, "ROLEGATE_PUBLIC_URL", "") or "").rstrip("/")
        link = f"{base}/requests/{access_request.id}/"
        requester = access_request.requester.get_username()
        roles = ", ".join(access_request.roles)
        body = (
            f"{requester} asks for the role(s) {roles} for "
            f"{format_duration(access_request.duration)}.\n\n"
            f"Reason: {access_request.reason or '(none given)'}\n\n"
            f"Review it before {access_request.review_deadline:%Y-%m-%d %H:%M} UTC: {link}\n"
        )
        send_mail(
            subject=f"[Rolegate] Access request from {requester}: {roles}",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        # A mail server outage must not undo a committed request; the pending list shows it.
        logger.exception("could not notify the reviewers of access request %s", request_id)


_REQUESTER_MAIL = {
    "approved": "approved: you have the role(s) {roles} until {ends} UTC",
    "denied": "denied: the role(s) {roles} were not granted",
    "ended": "ended: your access to the role(s) {roles} ended at {ended} UTC",
}


def _notify_requester(request_id: UUID, event: str) -> None:
    """E-mail the requester that their request was approved, denied or ended; best effort."""
    try:
        access_request = AccessRequest.objects.select_related("requester").get(pk=request_id)
        email = access_request.requester.email
        if not email:
            return
        roles = ", ".join(access_request.roles)
        ends = access_request.access_ends_at
        line = _REQUESTER_MAIL[event].format(
            roles=roles,
            ends=f"{ends:%Y-%m-%d %H:%M}" if ends else "-",
            ended=f"{access_request.ended_at or timezone.now():%Y-%m-%d %H:%M}",
        )
        base = str(getattr(settings, "ROLEGATE_PUBLIC_URL", "") or "").rstrip("/")
        body = f"Your access request {access_request.short_id} was {line}.\n\n"
        if event == "ended" and access_request.end_reason:
            body += f"Reason: {access_request.end_reason}\n\n"
        body += f"{base}/requests/{access_request.id}/\n"
        send_mail(
            subject=f"[Rolegate] Access request {event}: {roles}",
            message=body,
            from_email=None,
            recipient_list=[email],
        )
    except Exception:
        # A mail server outage must not undo a committed decision; the request page shows it.
        logger.exception("could not notify the requester of access request %s", request_id)


def access_request_create(
    *,
    actor: User,
    roles: object,
    reason: str = "",
    duration: timedelta | str | None = None,
) -> AccessRequest:
    """Ask for roles for a while; refuses roles the actor's roles do not let them request."""
    names = _parse_roles(roles)
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise RequestInvalid(f"The reason is limited to {MAX_REASON_LENGTH} characters.")
    refused = unrequestable_roles(actor, names)
    if refused:
        message = (
            f"You may not request the role(s) {', '.join(refused)}: none of your roles allows "
            "it, you already hold it, or it does not exist."
        )
        _refuse(
            actor=actor,
            event_type=events.ACCESS_REQUEST_CREATED,
            # No request exists yet: the target is the roles that were refused.
            target_kind="role",
            target=",".join(sorted(refused))[:300],
            message=message,
            details={"roles": names},
        )
        raise AccessDenied(message)
    policy = effective_request_policy(actor, names)
    if policy.reason_required and not reason:
        raise RequestInvalid("Your roles require a reason for this request.")
    access_duration = _parse_duration(duration, policy.max_duration)
    now = timezone.now()
    with transaction.atomic():
        access_request = AccessRequest.objects.create(
            requester=actor,
            roles=names,
            reason=reason,
            duration=access_duration,
            approvals_required=policy.approvals,
            denials_required=policy.denials,
            review_deadline=now + review_ttl(),
        )
        audit_record(
            event_type=events.ACCESS_REQUEST_CREATED,
            actor=actor,
            target_kind=TARGET,
            target_name=str(access_request.id),
            details={
                "roles": names,
                "reason": reason,
                "duration": format_duration(access_duration),
                "approvals_required": policy.approvals,
                "denials_required": policy.denials,
                "review_deadline": access_request.review_deadline,
            },
        )
        request_id = access_request.id
        transaction.on_commit(lambda: _notify_reviewers(request_id))
    return access_request


def _expire_locked(access_request: AccessRequest, now: datetime) -> None:
    access_request.state = AccessRequest.State.EXPIRED
    access_request.resolved_at = now
    access_request.save(update_fields=["state", "resolved_at"])
    audit_record(
        event_type=events.ACCESS_REQUEST_EXPIRED,
        actor=None,
        target_kind=TARGET,
        target_name=str(access_request.id),
        details={
            "requester": access_request.requester.get_username(),
            "roles": access_request.roles,
            "review_deadline": access_request.review_deadline,
        },
    )


def _revocable_before_end(access_request: AccessRequest) -> set[tuple[int, str]]:
    """What the requester reached with this request's grants (they may already be past)."""
    from apps.access.selectors import user_role_names

    requester = access_request.requester
    return session_revocation().reachable(
        requester, role_names=[*user_role_names(requester), *access_request.roles]
    )


def _end_locked(
    access_request: AccessRequest, now: datetime, actor: User | None, reason: str
) -> None:
    before = _revocable_before_end(access_request)
    access_request.state = AccessRequest.State.ENDED
    access_request.ended_at = now
    access_request.ended_by = actor if getattr(actor, "is_authenticated", False) else None
    access_request.end_reason = reason[:300]
    access_request.save(update_fields=["state", "ended_at", "ended_by", "end_reason"])
    AccessGrant.objects.filter(request=access_request, ended_at__isnull=True).update(ended_at=now)
    audit_record(
        event_type=events.ACCESS_REQUEST_ENDED,
        actor=actor,
        target_kind=TARGET,
        target_name=str(access_request.id),
        details={
            "requester": access_request.requester.get_username(),
            "roles": access_request.roles,
            "access_ends_at": access_request.access_ends_at,
            "reason": reason,
        },
    )
    # The kill switch: sessions issued under the grant stop working now, not at their expiry.
    session_revocation().revoke_lost(
        actor=actor,
        user=access_request.requester,
        before=before,
        reason=f"access request {access_request.short_id} ended: {reason}"[:300],
    )
    transaction.on_commit(lambda: _notify_requester(access_request.pk, "ended"))


def access_request_review(
    *, actor: User, request_id: UUID | str, decision: str, comment: str = ""
) -> AccessRequest:
    """Approve or deny; counted once per reviewer under a row lock; a denial threshold wins."""
    if decision not in AccessReview.Decision.values:
        raise RequestInvalid("The decision must be 'approve' or 'deny'.")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise RequestInvalid(f"The comment is limited to {MAX_COMMENT_LENGTH} characters.")
    try:
        key = request_id if isinstance(request_id, UUID) else UUID(str(request_id))
    except ValueError:
        raise RequestNotFound() from None
    refusal = ""
    not_pending = ""
    with transaction.atomic():
        access_request = (
            AccessRequest.objects.select_for_update(of=("self",))
            .select_related("requester")
            .filter(pk=key)
            .first()
        )
        if access_request is None:
            raise RequestNotFound()
        now = timezone.now()
        if access_request.requester_id == getattr(actor, "pk", None):
            refusal = "You cannot review your own access request."
        elif not can_review(actor, access_request):
            refusal = "Your roles do not allow you to review this request."
        elif access_request.state != AccessRequest.State.PENDING:
            not_pending = f"This request is already {access_request.state}."
        elif now >= access_request.review_deadline:
            # Decided under the lock: the deadline passed, so the review is refused and the
            # request expires now rather than waiting for the beat task.
            _expire_locked(access_request, now)
            not_pending = "This request expired before it was reviewed."
        elif access_request.reviews.filter(reviewer_id=actor.pk).exists():
            not_pending = "You have already reviewed this request."
        else:
            _record_review(access_request, actor, decision, comment, now)
    if refusal:
        _refuse(
            actor=actor,
            event_type=events.ACCESS_REQUEST_REVIEWED,
            target=str(key),
            message=refusal,
            details={"decision": decision},
        )
        raise AccessDenied(refusal)
    if not_pending:
        raise RequestNotPending(not_pending)
    return access_request


def _record_review(
    access_request: AccessRequest, actor: User, decision: str, comment: str, now: datetime
) -> None:
    try:
        with transaction.atomic():
            AccessReview.objects.create(
                request=access_request,
                reviewer=actor,
                requester_id=access_request.requester_id,
                decision=decision,
                comment=comment,
            )
    except IntegrityError:
        # The unique/self constraints are the backstop; the checks above normally catch both.
        raise RequestNotPending("You have already reviewed this request.") from None
    counts = {d: 0 for d in AccessReview.Decision.values}
    for value in access_request.reviews.values_list("decision", flat=True):
        counts[value] += 1
    audit_record(
        event_type=events.ACCESS_REQUEST_REVIEWED,
        actor=actor,
        target_kind=TARGET,
        target_name=str(access_request.id),
        details={
            "decision": decision,
            "comment": comment,
            "approvals": counts["approve"],
            "denials": counts["deny"],
        },
    )
    if counts["deny"] >= access_request.denials_required:
        access_request.state = AccessRequest.State.DENIED
        access_request.resolved_at = now
        access_request.save(update_fields=["state", "resolved_at"])
        event = events.ACCESS_REQUEST_DENIED
    elif counts["approve"] >= access_request.approvals_required:
        access_request.state = AccessRequest.State.APPROVED
        access_request.resolved_at = now
        access_request.access_starts_at = now
        access_request.access_ends_at = now + access_request.duration
        access_request.save(
            update_fields=["state", "resolved_at", "access_starts_at", "access_ends_at"]
        )
        AccessGrant.objects.bulk_create(
            AccessGrant(
                request=access_request,
                user_id=access_request.requester_id,
                role_name=name,
                starts_at=now,
                ends_at=access_request.access_ends_at,
            )
            for name in access_request.roles
        )
        event = events.ACCESS_REQUEST_APPROVED
    else:
        return
    request_pk = access_request.pk
    outcome = "denied" if event == events.ACCESS_REQUEST_DENIED else "approved"
    transaction.on_commit(lambda: _notify_requester(request_pk, outcome))
    audit_record(
        event_type=event,
        actor=actor,
        target_kind=TARGET,
        target_name=str(access_request.id),
        details={
            "requester": access_request.requester.get_username(),
            "roles": access_request.roles,
            "approvals": counts["approve"],
            "denials": counts["deny"],
            "access_ends_at": access_request.access_ends_at,
        },
    )


def access_request_end(*, actor: User, request_id: UUID | str, reason: str = "") -> AccessRequest:
    """End a grant early: its requester or staff may; no-op if it already ended."""
    try:
        key = request_id if isinstance(request_id, UUID) else UUID(str(request_id))
    except ValueError:
        raise RequestNotFound() from None
    is_staff = has_capability(actor, ACCESS_ADMIN)
    with transaction.atomic():
        access_request = (
            AccessRequest.objects.select_for_update(of=("self",))
            .select_related("requester")
            .filter(pk=key)
            .first()
        )
        if access_request is None or (
            access_request.requester_id != getattr(actor, "pk", None) and not is_staff
        ):
            raise RequestNotFound()
        if access_request.state == AccessRequest.State.ENDED:
            return access_request
        if access_request.state != AccessRequest.State.APPROVED:
            raise RequestNotPending(f"This request is {access_request.state}; no access to end.")
        now = timezone.now()
        ended_naturally = access_request.access_ends_at is not None and (
            access_request.access_ends_at <= now
        )
        _end_locked(
            access_request,
            now,
            None if ended_naturally else actor,
            "grant reached its end" if ended_naturally else (reason.strip() or "ended early"),
        )
    return access_request


def access_request_cancel(*, actor: User, request_id: UUID | str) -> AccessRequest:
    """Withdraw a pending request: only its requester may; no-op if already withdrawn."""
    try:
        key = request_id if isinstance(request_id, UUID) else UUID(str(request_id))
    except ValueError:
        raise RequestNotFound() from None
    with transaction.atomic():
        access_request = (
            AccessRequest.objects.select_for_update(of=("self",))
            .select_related("requester")
            .filter(pk=key)
            .first()
        )
        # Someone else's request reads as missing: ids must not be probed through here.
        if access_request is None or access_request.requester_id != getattr(actor, "pk", None):
            raise RequestNotFound()
        if access_request.state == AccessRequest.State.CANCELLED:
            return access_request
        if access_request.state != AccessRequest.State.PENDING:
            raise RequestNotPending(
                f"This request is already {access_request.state}; only a pending request can "
                "be withdrawn."
            )
        now = timezone.now()
        access_request.state = AccessRequest.State.CANCELLED
        access_request.resolved_at = now
        access_request.save(update_fields=["state", "resolved_at"])
        audit_record(
            event_type=events.ACCESS_REQUEST_CANCELLED,
            actor=actor,
            target_kind=TARGET,
            target_name=str(access_request.id),
            details={"roles": access_request.roles},
        )
    return access_request


def access_requests_expire(*, now: datetime | None = None, limit: int = 500) -> ExpiryResult:
    """Expire pending requests past their deadline and mark ended grants (beat, idempotent).

    Rows another transaction holds (a review in progress) are skipped, not waited for; the next
    run picks them up, and decisions check the deadline and the grant's end themselves anyway.
    """
    moment = now or timezone.now()
    expired = ended = 0
    with transaction.atomic():
        due = list(
            AccessRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("requester")
            .filter(state=AccessRequest.State.PENDING, review_deadline__lte=moment)
            .order_by("review_deadline")[:limit]
        )
        for access_request in due:
            _expire_locked(access_request, moment)
            expired += 1
        over = list(
            AccessRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("requester")
            .filter(state=AccessRequest.State.APPROVED, access_ends_at__lte=moment)
            .order_by("access_ends_at")[:limit]
        )
        for access_request in over:
            _end_locked(access_request, moment, None, "grant reached its end")
            ended += 1
    return ExpiryResult(expired=expired, ended=ended)
