"""The audit rows of one credential issuance, each committed in its own transaction.

An issuance writes its intent before CreateSession and its outcome after, so an AWS session
never exists without a committed row: if the process or the database dies in between, the
pending intent (with the leaf's serial, which AWS shows in CloudTrail) still records it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit import events
from apps.audit.chain import seal_after_commit
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.resources.errors import AuditUnavailable
from apps.resources.models import AwsApp
from apps.resources.models_user import AppUserState

log = logging.getLogger(__name__)

EVENT_CREDENTIALS_ISSUED = events.AWS_CREDENTIALS_ISSUED
# The intent, committed before CreateSession (outcome "pending"); "issued" follows it.
EVENT_CREDENTIALS_REQUESTED = events.AWS_CREDENTIALS_REQUESTED


def issuance_intent_record(*, actor: User, app: AwsApp, details: Mapping[str, Any]) -> int:
    """Commit the intent of an issuance (leaf serial, user, app, role, purpose) before
    CreateSession, in its own transaction or the caller's (the issuance writes the leaf's row
    and the intent together); return its audit event id.

    A session AWS makes afterwards is never unrecorded, even if this process or the database
    dies before the outcome is written. Raises AuditUnavailable when it cannot be written:
    no intent, no CreateSession.
    """
    try:
        # No savepoint: inside the issuance's transaction (with the leaf's row) a failure here
        # rolls the whole of it back, which is what fail closed asks for.
        with transaction.atomic(savepoint=False):
            event = audit_record(
                event_type=EVENT_CREDENTIALS_REQUESTED,
                actor=actor,
                outcome=AuditEvent.Outcome.PENDING,
                target_kind="app",
                target_name=app.name,
                details=dict(details),
                # Sealed with its outcome, in one chain append after the outcome commits, so
                # no chain work sits before CreateSession; if the outcome never comes, the
                # beat sweep seals it.
                seal=False,
            )
    except DatabaseError:
        log.exception("audit write failed; no credentials issued for %s", app.name)
        raise AuditUnavailable() from None
    return int(event.pk)


def issuance_outcome_record(
    *,
    actor: User,
    app: AwsApp,
    intent: int,
    details: Mapping[str, Any],
    succeeded: bool,
    session_may_exist: bool = False,
) -> bool:
    """Record how the issuance of intent `intent` ended, in its own transaction; return
    whether it could be written (a failure is logged: the intent row still stands)."""
    outcome_details: dict[str, Any] = {**details, "intent_id": intent}
    if session_may_exist:
        outcome_details["session_may_exist"] = True
    try:
        with transaction.atomic():
            event = audit_record(
                event_type=EVENT_CREDENTIALS_ISSUED,
                actor=actor,
                outcome=AuditEvent.Outcome.SUCCESS if succeeded else AuditEvent.Outcome.ERROR,
                target_kind="app",
                target_name=app.name,
                details=outcome_details,
                seal=False,
            )
            if getattr(settings, "ROLEGATE_AUDIT_SEAL_ON_COMMIT", True):
                transaction.on_commit(functools.partial(seal_after_commit, intent, event.pk))
            if succeeded:
                # One INSERT ... ON CONFLICT DO UPDATE: no SELECT FOR UPDATE, no savepoint.
                AppUserState.objects.bulk_create(
                    [AppUserState(user=actor, app_name=app.name, last_launched_at=timezone.now())],
                    update_conflicts=True,
                    unique_fields=["user", "app_name"],
                    update_fields=["last_launched_at"],
                )
    except DatabaseError:
        log.exception(
            "could not record the outcome of issuance %s for %s (success=%s); the pending "
            "intent row stands",
            intent,
            app.name,
            succeeded,
        )
        return False
    return True
