"""Revoking live AWS sessions: record who lost what, then push the inline Deny policy to IAM.

Writes happen in two steps so a slow or failing AWS never blocks the change of access:

1. `sessions_revoke` (called in the transaction that ends the access) upserts `RevokedSession`
   rows, audits `sessions.revoked`, and after commit starts the push task at once.
2. `revocation_push` (the Celery task's service) signs in as Rolegate (the profile-sync role),
   writes `RolegateRevokedSessions` on every role with entries, prunes old entries, and leaves a
   `RevocationRun` row plus an audit event; a failure is recorded and retried by the task.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import boto3
from botocore.config import Config
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone

import awsra
from apps.accounts.models import User
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.identity import Actor, SystemActor
from apps.core.jobs import task
from apps.integrations import aws
from apps.integrations.jobs import PUSH_SESSION_REVOCATIONS
from apps.integrations.models import Integration
from apps.integrations.models_revocation import RevocationRun, RevokedSession
from apps.integrations.revocation.policy import (
    POLICY_NAME,
    PRUNE_AFTER,
    Entry,
    plan_policy,
    revocation_time,
    source_identity_for,
)
from awsra.arn import ArnError, parse_role_arn

__all__ = [
    "EVENT_REVOCATION_FAILED",
    "EVENT_REVOCATION_PUSHED",
    "EVENT_SESSIONS_REVOKED",
    "KillSwitch",
    "PushOutcome",
    "app_sessions_revoke",
    "revocable_access",
    "revocation_in_use",
    "revocation_push",
    "revocation_settle",
    "sessions_revoke",
    "sessions_revoke_lost_access",
    "user_sessions_revoke",
]

log = logging.getLogger(__name__)

EVENT_SESSIONS_REVOKED = events.SESSIONS_REVOKED
EVENT_REVOCATION_PUSHED = events.SESSIONS_REVOCATION_PUSHED
EVENT_REVOCATION_FAILED = events.SESSIONS_REVOCATION_FAILED
MAX_ERROR_LENGTH = 4000

Pair = tuple[int, str]  # (integration id, IAM role ARN)


# -- who can reach what ------------------------------------------------------------------------


def revocation_in_use() -> bool:
    """Whether any integration has the kill switch on (else no trigger has work to do)."""
    return Integration.objects.filter(session_revocation_enabled=True).exists()


def revocable_access(user: User, *, role_names: Sequence[str] | None = None) -> set[Pair]:
    """The (integration, role ARN) pairs `user` reaches on integrations with revocation on.

    `role_names` overrides the user's current roles (assigned plus grants in force), so a
    caller can ask what a set of roles *did* allow before it changed.
    """
    from apps.access.selectors import as_app_facts, compiled_roles, user_role_names, user_traits
    from apps.resources.models import AwsApp
    from rbac.decision import Evaluator

    apps = list(
        AwsApp.objects.filter(integration__session_revocation_enabled=True).only(
            "name", "labels", "account_id", "role_arns", "integration_id"
        )
    )
    if not apps:
        return set()
    names = list(role_names) if role_names is not None else user_role_names(user)
    evaluator = Evaluator(compiled_roles(list(dict.fromkeys(names))), user_traits(user))
    integration_of = {app.name: app.integration_id for app in apps}
    return {
        (integration_of[facts.name], arn)
        for facts, arns in evaluator.accessible_apps([as_app_facts(app) for app in apps])
        for arn in arns
    }


# -- recording revocations --------------------------------------------------------------------


def _start_push(integration_id: int, reason: str) -> None:
    """Start the push task now (not at the next beat); the beat reconcile is the safety net."""
    try:
        task(PUSH_SESSION_REVOCATIONS).delay(integration_id, reason[:300])
    except Exception:  # any broker failure: the reconcile beat pushes pending entries later
        log.warning(
            "could not queue the session revocation push of integration %s; the reconcile "
            "beat will push it",
            integration_id,
            exc_info=True,
        )


def sessions_revoke(
    *,
    actor: Actor,
    integration_id: int,
    role_arns: Iterable[str],
    username: str,
    reason: str,
    now: datetime | None = None,
) -> int:
    """Deny every session of `username` ("" = every user) on these roles issued before now.

    Audited in the caller's transaction; the push to IAM starts after commit. Returns the
    number of roles recorded (0 when the integration has revocation off).
    """
    arns = sorted(set(role_arns))
    if not arns:
        return 0
    with transaction.atomic():
        integration = Integration.objects.filter(
            pk=integration_id, session_revocation_enabled=True
        ).first()
        if integration is None:
            return 0
        revoked_before = revocation_time(now or timezone.now())
        identity = source_identity_for(username) if username else ""
        for arn in arns:
            entry, created = RevokedSession.objects.select_for_update().get_or_create(
                integration=integration,
                role_arn=arn,
                source_identity=identity,
                defaults={
                    "username": username,
                    "revoked_before": revoked_before,
                    "reason": reason[:300],
                },
            )
            if not created and entry.revoked_before < revoked_before:
                entry.revoked_before = revoked_before
                entry.reason = reason[:300]
                entry.save(update_fields=["revoked_before", "reason"])
        audit_record(
            event_type=EVENT_SESSIONS_REVOKED,
            actor=actor,
            target_kind="integration",
            target_name=integration.name,
            details={
                "username": username or None,
                "source_identity": identity or "(every session)",
                "role_arns": arns,
                "revoked_before": revoked_before,
                "reason": reason,
                "policy_name": POLICY_NAME,
            },
        )
        integration_pk = integration.pk
        transaction.on_commit(lambda: _start_push(integration_pk, reason))
    return len(arns)


def _group(pairs: Iterable[Pair]) -> dict[int, set[str]]:
    grouped: dict[int, set[str]] = {}
    for integration_id, arn in pairs:
        grouped.setdefault(integration_id, set()).add(arn)
    return grouped


def sessions_revoke_lost_access(
    *, actor: Actor, user: User, before: set[Pair], reason: str, after: set[Pair] | None = None
) -> int:
    """Revoke the user's sessions on every role they reached `before` and no longer reach.

    `after` defaults to what the user reaches now (nothing once deactivated).
    """
    if not before:
        return 0
    if after is None:
        after = revocable_access(user) if user.is_active else set()
    revoked = 0
    for integration_id, arns in sorted(_group(before - after).items()):
        revoked += sessions_revoke(
            actor=actor,
            integration_id=integration_id,
            role_arns=arns,
            username=user.get_username(),
            reason=reason,
        )
    return revoked


def user_sessions_revoke(*, actor: Actor, user: User, reason: str = "") -> int:
    """Staff action: revoke every live session of `user` on every role they could reach."""
    pairs = revocable_access(user)
    revoked = 0
    for integration_id, arns in sorted(_group(pairs).items()):
        revoked += sessions_revoke(
            actor=actor,
            integration_id=integration_id,
            role_arns=arns,
            username=user.get_username(),
            reason=reason or "staff revoked the user's AWS sessions",
        )
    return revoked


def app_sessions_revoke(
    *, actor: Actor, app_name: str, role_arn: str | None = None, reason: str = ""
) -> int:
    """Staff action: revoke every user's live sessions on one app's role (or all its roles)."""
    from apps.resources.models import AwsApp

    app = AwsApp.objects.filter(name=app_name).first()
    if app is None:
        raise LookupError(f"app {app_name!r} not found")
    arns = list(app.role_arns or [])
    if role_arn is not None:
        if role_arn not in arns:
            raise ValueError(f"the app {app_name!r} does not list the role {role_arn!r}")
        arns = [role_arn]
    return sessions_revoke(
        actor=actor,
        integration_id=app.integration_id,
        role_arns=arns,
        username="",
        reason=reason or f"staff revoked every session on {app_name}",
    )


def revocation_settle(*, integration_id: int, role_arn: str, username: str) -> None:
    """Wait (at most a second) until a fresh revocation of this user on this role is past.

    A revocation covers tokens issued before its whole second; credentials issued within that
    same second would be denied at once, so a new issuance waits for the second to pass.
    """
    latest = (
        RevokedSession.objects.filter(
            integration_id=integration_id,
            role_arn=role_arn,
            source_identity__in=[source_identity_for(username), ""],
        )
        .order_by("-revoked_before")
        .values_list("revoked_before", flat=True)
        .first()
    )
    if latest is None:
        return
    delay = (latest - timezone.now()).total_seconds()
    if 0 < delay <= 1.5:
        time.sleep(delay + 0.05)


# -- pushing to IAM -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PushOutcome:
    """What one push did; `transient` says whether retrying may help."""

    status: str
    roles_written: int
    roles_cleared: int
    fallback_roles: tuple[str, ...]
    error_message: str
    transient: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary (the task's return value)."""
        return {
            "status": self.status,
            "roles_written": self.roles_written,
            "roles_cleared": self.roles_cleared,
            "fallback_roles": list(self.fallback_roles),
            "error_message": self.error_message,
        }


def _iam_client(integration: Integration) -> Any:
    """An IAM client signed in as Rolegate (the profile-sync role) through Roles Anywhere."""
    from apps.integrations.services.listing import sync_target

    credentials = aws.sign_in_as_rolegate(sync_target(integration))
    timeout = float(settings.ROLEGATE_PROFILE_SYNC_TIMEOUT)
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name=integration.region,
    )
    # One attempt per call: the Celery task retries the whole push with backoff.
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=timeout,
        read_timeout=timeout,
    )
    return session.client("iam", config=config)


def _current_document(iam: Any, role_name: str) -> dict[str, Any] | None:
    try:
        answer = iam.get_role_policy(RoleName=role_name, PolicyName=POLICY_NAME)
    except Exception as raw:  # botocore raises many unrelated classes
        error = aws.aws_error_from_boto("GetRolePolicy", raw)
        if error.code == "NoSuchEntity":
            return None
        raise error from raw
    document = answer.get("PolicyDocument")
    if isinstance(document, str):  # botocore decodes it; be safe if it did not
        document = json.loads(document)
    return document if isinstance(document, dict) else None


def _write_role(iam: Any, role_arn: str, entries: list[Entry], now: datetime) -> tuple[str, bool]:
    """Bring one role's policy to the plan; return ("written"|"cleared"|"unchanged", fallback)."""
    role_name = parse_role_arn(role_arn).name
    plan = plan_policy(entries, now=now)
    current = _current_document(iam, role_name)
    if plan.document is None:
        if current is None:
            return "unchanged", False
        try:
            iam.delete_role_policy(RoleName=role_name, PolicyName=POLICY_NAME)
        except Exception as raw:
            error = aws.aws_error_from_boto("DeleteRolePolicy", raw)
            if error.code != "NoSuchEntity":
                raise error from raw
        return "cleared", False
    if current == plan.document:
        return "unchanged", plan.fallback
    try:
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName=POLICY_NAME,
            PolicyDocument=json.dumps(plan.document, separators=(",", ":")),
        )
    except Exception as raw:
        error = aws.aws_error_from_boto("PutRolePolicy", raw)
        if error.code != "LimitExceeded" or plan.fallback:
            raise error from raw
        # The role's other inline policies leave too little room: the one-statement fallback.
        plan = plan_policy(entries, now=now, force_fallback=True)
        assert plan.document is not None
        try:
            iam.put_role_policy(
                RoleName=role_name,
                PolicyName=POLICY_NAME,
                PolicyDocument=json.dumps(plan.document, separators=(",", ":")),
            )
        except Exception as raw_again:
            raise aws.aws_error_from_boto("PutRolePolicy", raw_again) from raw_again
    return "written", plan.fallback


def revocation_push(
    *, integration_id: int, reason: str = "", attempt: int = 1, now: datetime | None = None
) -> PushOutcome | None:
    """Write the revocation policy of every role with entries; prune entries past 12 h + 5 min.

    The integration row is locked for the push, so two pushes never interleave and the later
    one always writes the newer entries. Returns None when the integration is gone.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        integration = Integration.objects.select_for_update().filter(pk=integration_id).first()
        if integration is None:
            return None
        run = RevocationRun.objects.create(
            integration=integration, reason=reason[:300], attempt=attempt, started_at=moment
        )
        rows = list(RevokedSession.objects.filter(integration=integration).order_by("role_arn"))
        by_role: dict[str, list[RevokedSession]] = {}
        for row in rows:
            by_role.setdefault(row.role_arn, []).append(row)
        written = cleared = 0
        fallback: list[str] = []
        error_message = ""
        transient = False
        done_roles: list[str] = []
        try:
            iam = _iam_client(integration) if by_role else None
            for role_arn, role_rows in by_role.items():
                entries = [Entry(r.source_identity, r.revoked_before) for r in role_rows]
                try:
                    result, fell_back = _write_role(iam, role_arn, entries, moment)
                except ArnError as error:
                    error_message += f"{role_arn}: not a role ARN ({error})\n"
                    continue
                written += result == "written"
                cleared += result == "cleared"
                if fell_back:
                    fallback.append(role_arn)
                done_roles.append(role_arn)
        except awsra.AwsError as error:
            error_message += f"{error.code}: {error.message}"
            transient = isinstance(error, awsra.TransientError)
        except Exception as error:  # the authority, the HTTP stack: recorded, never silent
            log.exception("session revocation push of %s failed", integration.name)
            error_message += f"{type(error).__name__}: {error}"
            transient = True
        if done_roles:
            RevokedSession.objects.filter(
                integration=integration,
                role_arn__in=done_roles,
                revoked_before__lte=moment - PRUNE_AFTER,
            ).delete()
        failed = bool(error_message)
        run.status = RevocationRun.Status.ERROR if failed else RevocationRun.Status.SUCCESS
        run.ended_at = timezone.now()
        run.roles_written = written
        run.roles_cleared = cleared
        run.fallback_roles = fallback
        run.error_message = error_message[:MAX_ERROR_LENGTH]
        run.save()
        audit_record(
            event_type=EVENT_REVOCATION_FAILED if failed else EVENT_REVOCATION_PUSHED,
            actor=SystemActor("session-revocation"),
            outcome=AuditEvent.Outcome.ERROR if failed else AuditEvent.Outcome.SUCCESS,
            target_kind="integration",
            target_name=integration.name,
            details={
                "policy_name": POLICY_NAME,
                "reason": reason,
                "attempt": attempt,
                "roles": sorted(by_role),
                "roles_written": written,
                "roles_cleared": cleared,
                # The size-limit fallback denies every session of these roles issued before
                # the latest revocation, other users' included.
                "fallback_roles": fallback,
                "error": error_message[:MAX_ERROR_LENGTH] or None,
            },
        )
    return PushOutcome(
        status=run.status,
        roles_written=written,
        roles_cleared=cleared,
        fallback_roles=tuple(fallback),
        error_message=error_message,
        transient=transient,
    )


class KillSwitch:
    """`apps.core.hooks.SessionRevocation` as implemented here (registered in ready()).

    The kernel knows users as Django's `AbstractUser`; every one is an `accounts.User`
    (AUTH_USER_MODEL), which the casts say to the type checker.
    """

    def in_use(self) -> bool:
        return revocation_in_use()

    def reachable(
        self, user: AbstractUser, *, role_names: Sequence[str] | None = None
    ) -> set[Pair]:
        return revocable_access(cast(User, user), role_names=role_names)

    def revoke_lost(
        self, *, actor: Actor, user: AbstractUser, before: set[Pair], reason: str
    ) -> int:
        return sessions_revoke_lost_access(
            actor=actor, user=cast(User, user), before=before, reason=reason
        )

    def revoke_user(self, *, actor: Actor, user: AbstractUser) -> int:
        return user_sessions_revoke(actor=actor, user=cast(User, user))

    def revoke_app(self, *, actor: Actor, app_name: str) -> int:
        return app_sessions_revoke(actor=actor, app_name=app_name)

    def settle(self, *, integration_id: int, role_arn: str, username: str) -> None:
        revocation_settle(integration_id=integration_id, role_arn=role_arn, username=username)
