"""How the issuance path says no, on the record: refusals audited in their own transaction,
the per-user rate limit, and AWS errors turned into an `IssuanceError` with an operator hint.

Shared by the issuance steps (`issuance`) and the console launch (`console`); nothing here is
used outside the services package.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

import awsra
from apps.accounts.models import User
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.ratelimit import RateLimited, rate_limit_hit
from apps.resources.errors import IssuanceError
from apps.resources.issuance_audit import EVENT_CREDENTIALS_ISSUED

log = logging.getLogger(__name__)

ISSUANCE_RATE_WINDOW = 60  # seconds: the rate limit counts issuances per minute

# What an operator should look at for each kind of AWS refusal, in plain words.
_HINTS: dict[str, str] = {
    "AccessDeniedException": (
        "An operator should check that the IAM role's trust policy allows the principal "
        "rolesanywhere.amazonaws.com (sts:AssumeRole, sts:TagSession, sts:SetSourceIdentity) and "
        "that its conditions match; that the Roles Anywhere profile lists this role and is "
        "enabled; that the trust anchor holds Rolegate's current CA certificate and is enabled; "
        "and, if a session name was refused, that the profile's 'accept role session name' "
        "setting matches the integration."
    ),
    "ValidationException": (
        "An operator should check the session duration: the profile's duration and the IAM "
        "role's maximum session duration must allow it."
    ),
    "ResourceNotFoundException": (
        "The trust anchor or the profile no longer exists in AWS. An operator should check the "
        "integration and run a profile sync."
    ),
}
_TRANSIENT_HINT = "AWS did not answer in time or asked us to slow down. Try again in a minute."
# AWS's words when its clock and Rolegate's disagree (the request date, or the leaf's validity).
_CLOCK_ERROR = re.compile(
    r"away from server time|signature expired|not valid before|certificate expired|not yet valid",
    re.IGNORECASE,
)
_CLOCK_HINT = (
    "Rolegate's clock and AWS's disagree by more than AWS allows (5 minutes): an operator should "
    "check that the Rolegate server's clock is synchronized (NTP)."
)


def _audit_refusal(*, actor: User, app_name: str, outcome: str, details: Mapping[str, Any]) -> None:
    """Record a refusal or failure in its own transaction; a failed write is logged, not raised.

    The caller is about to refuse anyway, so the refusal stands whether or not it could be
    recorded; the log line keeps the trace when the database is the problem.
    """
    try:
        with transaction.atomic():
            audit_record(
                event_type=EVENT_CREDENTIALS_ISSUED,
                actor=actor,
                outcome=outcome,
                target_kind="app",
                target_name=app_name,
                details=dict(details),
            )
    except DatabaseError:
        log.exception("could not audit a %s credential issuance for %s", outcome, app_name)


def _recent_issuances(actor: User) -> int:
    since = timezone.now() - timedelta(seconds=ISSUANCE_RATE_WINDOW)
    return AuditEvent.objects.filter(
        event_type__in=events.stored_names(EVENT_CREDENTIALS_ISSUED),
        actor_id=actor.pk,
        time__gte=since,
    ).count()


def _check_issuance_rate(actor: User, app_name: str, base: Mapping[str, Any]) -> None:
    """One user may not exhaust the account's CreateSession quota for everyone (audited)."""
    decision = rate_limit_hit(
        "issuance",
        str(actor.pk),
        limit=int(getattr(settings, "ROLEGATE_ISSUANCE_RATE_LIMIT", 60)),
        window=ISSUANCE_RATE_WINDOW,
        fallback=lambda: _recent_issuances(actor),
    )
    if not decision.refused:
        return
    _audit_refusal(
        actor=actor,
        app_name=str(app_name)[:300],
        outcome=AuditEvent.Outcome.DENIED,
        details={
            **base,
            "reason": "rate limited",
            "limit_per_minute": decision.limit,
            "retry_after": decision.retry_after,
        },
    )
    raise RateLimited(
        f"Too many credential requests: at most {decision.limit} a minute. "
        f"Try again in {decision.retry_after} s.",
        retry_after=decision.retry_after,
    )


def _aws_failure(exc: awsra.AwsError) -> IssuanceError:
    if isinstance(exc, awsra.TransientError):
        return IssuanceError(
            f"AWS could not be reached or was busy ({exc.code}): {exc.message}",
            hint=_TRANSIENT_HINT,
            aws_code=exc.code,
            retryable=True,
        )
    if _CLOCK_ERROR.search(exc.message or ""):
        # Said in the message too, so CLI users (who get no hint) see the likely cause.
        return IssuanceError(
            f"AWS refused the request ({exc.code}): {exc.message}. {_CLOCK_HINT}",
            hint=_CLOCK_HINT,
            aws_code=exc.code,
        )
    hint = _HINTS.get(exc.code, "An operator should check the integration and the profile.")
    return IssuanceError(
        f"AWS refused the request ({exc.code}): {exc.message or 'no message'}",
        hint=hint,
        aws_code=exc.code,
    )


def _refuse(actor: User, app_name: str, base: Mapping[str, Any], reason: str) -> None:
    _audit_refusal(
        actor=actor,
        app_name=app_name,
        outcome=AuditEvent.Outcome.DENIED,
        details={**base, "reason": reason},
    )
