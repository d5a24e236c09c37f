"""The one credential-issuance path: `_issue` and its named steps, and `aws_credentials_issue`.

`aws_credentials_issue` is the only function in Rolegate that turns (user, app, IAM role) into
AWS credentials; the console launch (`console`) and the CLI API both go through `_issue`. Order
of work:

1. RBAC through `apps.access` (the one place that decides); a refusal is audited and raised.
2. A five-minute leaf certificate (CN = username) from the authority.
3. The intent (`aws_credentials.requested`, outcome "pending": leaf serial, user, app, role,
   purpose) is committed in its own transaction; if it cannot be written, AWS is never called.
4. CreateSession, outside any transaction, never retried after a read timeout (AWS may have
   made the session), within ROLEGATE_ISSUANCE_TIMEOUT (under the web server's timeout).
5. The outcome (`aws_credentials.issued`, success or error, naming the intent) in its own
   transaction; if it cannot be written the credentials are dropped, and the committed intent
   still shows an issuance that may have succeeded. So every AWS session has its audit row,
   and credentials only ever leave this module with their success event committed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.views.decorators.debug import sensitive_variables

import awsra
from apps.access.access_end import issuance_duration
from apps.access.errors import AccessDenied
from apps.accounts.models import User
from apps.accounts.usernames import RESERVED_USERNAMES
from apps.audit.models import AuditEvent
from apps.authority.pki import CaKeyError
from apps.authority.services import IssuedCertificate, RotationError, certificate_issue
from apps.core.hooks import session_revocation
from apps.resources.errors import AppNotFound, AuditUnavailable, IssuanceError
from apps.resources.issuance_audit import issuance_intent_record, issuance_outcome_record
from apps.resources.metrics import observe_issuance
from apps.resources.models import AwsApp
from apps.resources.queries import Decided, app_decided
from apps.resources.services.refusals import (
    _audit_refusal,
    _aws_failure,
    _check_issuance_rate,
    _refuse,
)
from awsra.arn import is_valid_role_arn

__all__ = [
    "MAX_DURATION_SECONDS",
    "MIN_DURATION_SECONDS",
    "aws_credentials_issue",
    "role_session_name_for",
    "session_duration_seconds",
]

log = logging.getLogger(__name__)

# One CreateSession attempt's timeout; the whole call is capped by ROLEGATE_ISSUANCE_TIMEOUT.
CREATE_SESSION_ATTEMPT_TIMEOUT = 10.0
# CreateSession and STS accept 900..43200 seconds.
MIN_DURATION_SECONDS = 900
MAX_DURATION_SECONDS = 43200
# The leaf is exchanged for credentials at once, but AWS accepts a signed request whose date is
# up to five minutes from its own clock, and the leaf must still be valid by AWS's clock then.
LEAF_TTL = timedelta(minutes=5)

_SESSION_NAME_INVALID = re.compile(r"[^A-Za-z0-9+_=,.@-]", re.ASCII)
_SESSION_NAME_VALID = re.compile(r"[A-Za-z0-9+_=,.@-]{2,64}", re.ASCII)
_SESSION_NAME_HASHED = re.compile(r"-[0-9a-f]{16}\Z", re.ASCII)
_SESSION_NAME_MAX = 64

_UNKNOWN_OUTCOME_HINT = (
    "AWS did not answer in time. Any session it made expires on its own; an operator can find "
    "it in CloudTrail by the certificate serial recorded in the audit log. Try again in a minute."
)


def role_session_name_for(username: str) -> str:
    """The username as an STS role session name, one-to-one: `[A-Za-z0-9+=,.@_-]`, 2-64 chars.

    A username that already is a valid session name is used unchanged, unless it ends like a
    hashed name (`-` and 16 hex digits); any other username becomes its sanitized form (other
    characters as `_`, cut to 47) plus `-` and 16 hex digits of its SHA-256. Unchanged names never
    end in that suffix and hashed names always do, so two usernames never share a session name
    (short of a 64-bit hash collision), which keeps CloudTrail entries attributable.
    """
    if _SESSION_NAME_VALID.fullmatch(username) and not _SESSION_NAME_HASHED.search(username):
        return username
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{_SESSION_NAME_INVALID.sub('_', username)[: _SESSION_NAME_MAX - 17]}-{digest}"


def session_duration_seconds(
    *, max_session_ttl: timedelta, profile_seconds: int, requested: int | None = None
) -> int:
    """min(user's max session TTL, 12 h, the profile's duration, the request), at least 15 min."""
    candidates = [int(max_session_ttl.total_seconds()), MAX_DURATION_SECONDS, profile_seconds]
    if requested is not None:
        candidates.append(requested)
    return max(MIN_DURATION_SECONDS, min(candidates))


def _decide(
    actor: User, app_name: str, role_arn: str, base: dict[str, Any], decided: Decided | None
) -> Decided:
    """Step 1: the app and the decision on it (reused when the caller already made it)."""
    if decided is None or decided.app.name != app_name:
        decided = app_decided(actor, app_name)
    if decided is None:
        _refuse(actor, str(app_name)[:300], base, "no such app")
        raise AppNotFound(str(app_name))
    app, allowed = decided.app, decided.decision.allowed
    if not allowed:
        _refuse(actor, app.name, base, "no role of the user allows this app")
        # The same error (and so the same API status) as for a missing app: a refusal never
        # confirms that an app the user may not see exists.
        raise AppNotFound(app.name)
    if not is_valid_role_arn(role_arn) or role_arn not in allowed:
        _refuse(actor, app.name, base, "IAM role not allowed on this app")
        raise AccessDenied(
            f"You are not allowed to assume {role_arn[:200]!r} on {app.name!r}. "
            "Pick one of the roles offered for this app, or request access."
        )
    return decided


def _duration(
    actor: User,
    decided: Decided,
    role_arn: str,
    requested: int | None,
    login_expires_at: datetime | None,
    base: dict[str, Any],
) -> int:
    """Step 2: how long the session may last (role TTL, profile, request, access end)."""
    if requested is not None and (isinstance(requested, bool) or not isinstance(requested, int)):
        raise IssuanceError("duration_seconds must be a whole number of seconds")
    app, decision = decided.app, decided.decision
    # Credentials never outlive the access that allowed them (apps.access.access_end).
    plan = issuance_duration(
        base_seconds=session_duration_seconds(
            max_session_ttl=decision.session_ttl(role_arn),
            profile_seconds=app.duration_seconds,
            requested=requested,
        ),
        access_end=decision.access_end(role_arn, login_expires_at=login_expires_at),
        kill_switch=app.integration.session_revocation_enabled,
        now=decision.now,
    )
    base.update(access_ends_at=plan.access_ends_at, duration_reason=plan.reason)
    if plan.refusal:
        _refuse(actor, app.name, base, plan.refusal)
        raise AccessDenied(plan.refusal)
    if actor.get_username().lower() in RESERVED_USERNAMES:
        # A user made before the name was reserved must not share Rolegate's own identity.
        _refuse(actor, app.name, base, "username reserved for Rolegate's own certificates")
        raise AccessDenied("This username is reserved for Rolegate itself; ask an operator.")
    return plan.seconds


@dataclass(frozen=True)
class _Signed:
    leaf: IssuedCertificate
    intent: int
    details: dict[str, Any]
    session_name: str | None


@sensitive_variables("leaf")
def _sign_with_intent(
    actor: User, app: AwsApp, purpose: str, duration: int, base: Mapping[str, Any]
) -> _Signed:
    """Step 3: the leaf and its row, and the committed intent naming it, in one transaction.

    Nothing of it is committed unless both are: no intent, no CreateSession (AuditUnavailable).
    """
    username = actor.get_username()
    session_name = role_session_name_for(username) if app.accept_role_session_name else None
    try:
        with transaction.atomic():
            leaf = certificate_issue(
                subject_cn=username, purpose=f"aws-{purpose}"[:64], ttl=LEAF_TTL, actor=actor
            )
            details: dict[str, Any] = {
                **base,
                "profile_arn": app.profile_arn,
                "trust_anchor_arn": app.integration.trust_anchor_arn,
                "integration": app.integration.name,
                "certificate_serial": leaf.serial_hex,
                # Without a session name AWS uses the certificate serial (hex), which is what
                # CloudTrail then shows; recording it here links the entry back to the user.
                "role_session_name": session_name or leaf.serial_hex,
                "role_session_name_sent": session_name is not None,
                "duration_seconds": duration,
                "region": app.integration.region,
            }
            intent = issuance_intent_record(actor=actor, app=app, details=details)
    except (ValueError, CaKeyError, RotationError) as exc:
        raise _certificate_refused(actor, app, base, exc) from None
    except DatabaseError:
        log.exception("audit write failed; no credentials issued for %s", app.name)
        raise AuditUnavailable() from None
    return _Signed(leaf=leaf, intent=intent, details=details, session_name=session_name)


def _certificate_refused(
    actor: User, app: AwsApp, base: Mapping[str, Any], exc: Exception
) -> IssuanceError:
    """Audit why no leaf could be signed and say so: a username the CA cannot put in a CN
    (longer than 64 characters), or an authority that cannot sign (its CA expired, or a
    rotation is racing) — never a 500."""
    if isinstance(exc, ValueError):
        _audit_refusal(
            actor=actor,
            app_name=app.name,
            outcome=AuditEvent.Outcome.ERROR,
            details={**base, "reason": f"certificate refused: {exc}"},
        )
        return IssuanceError(
            f"Rolegate cannot issue a certificate for this account: {exc}",
            hint="An operator should give the user a username of at most 64 characters.",
        )
    _audit_refusal(
        actor=actor,
        app_name=app.name,
        outcome=AuditEvent.Outcome.ERROR,
        details={**base, "reason": f"certificate authority unavailable: {exc}"},
    )
    # The reason names key files and key ids: operators read it in the log and audit row.
    log.error("the certificate authority cannot sign for %s: %s", app.name, exc)
    return IssuanceError(
        "Rolegate's certificate authority cannot sign right now, so no credentials were issued.",
        hint="An operator should check the certificate authority: the audit log says why "
        "(an expired CA needs manage.py rotate_ca).",
    )


@sensitive_variables("credentials", "signed")
def _exchange(
    actor: User, app: AwsApp, role_arn: str, duration: int, signed: _Signed
) -> awsra.Credentials:
    """Step 4: CreateSession outside any transaction, never retried after a read timeout,
    then the outcome (and the user's last launch) in one transaction."""
    details = signed.details
    try:
        credentials = awsra.create_session(
            identity=signed.leaf.identity,  # its key was made with the leaf: no re-check
            trust_anchor_arn=app.integration.trust_anchor_arn,
            profile_arn=app.profile_arn,
            role_arn=role_arn,
            role_session_name=signed.session_name,
            duration_seconds=duration,
            timeout=min(CREATE_SESSION_ATTEMPT_TIMEOUT, float(settings.ROLEGATE_ISSUANCE_TIMEOUT)),
            budget=float(settings.ROLEGATE_ISSUANCE_TIMEOUT),
        )
    except (awsra.AwsError, ValueError) as exc:
        raise _create_session_failed(actor, app, signed, exc) from None
    if not issuance_outcome_record(
        actor=actor, app=app, intent=signed.intent, details=details, succeeded=True
    ):
        # AWS made the session, but its success could not be recorded: the credentials are
        # dropped (fail closed); the committed intent still shows an issuance that succeeded
        # in AWS, and its certificate serial ties it to the session in CloudTrail.
        raise AuditUnavailable(
            "AWS issued the credentials, but Rolegate could not record that in its audit log, "
            "so it did not hand them out (the request itself is recorded). Try again in a "
            "moment; if it keeps failing, an operator should check the database."
        )
    return credentials


@observe_issuance  # rolegate_credential_issuances{outcome,purpose}, latency, AWS error codes
@sensitive_variables("credentials")
def _issue(
    *,
    actor: User,
    app_name: str,
    role_arn: str,
    duration_seconds: int | None,
    purpose: str,
    extra: Mapping[str, Any],
    login_expires_at: datetime | None = None,
    decided: Decided | None = None,
) -> tuple[awsra.Credentials, AwsApp, int]:
    """Decide (once), size the session, sign with a committed intent, exchange; audited."""
    base: dict[str, Any] = {"app": app_name, "role_arn": role_arn, "purpose": purpose, **extra}
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise AccessDenied("Sign in first.")
    _check_issuance_rate(actor, app_name, base)
    if not isinstance(role_arn, str):
        role_arn = ""
        base["role_arn"] = ""
    decided = _decide(actor, app_name, role_arn, base, decided)
    app = decided.app
    duration = _duration(actor, decided, role_arn, duration_seconds, login_expires_at, base)
    if app.integration.session_revocation_enabled:
        session_revocation().settle(
            integration_id=app.integration_id, role_arn=role_arn, username=actor.get_username()
        )
    signed = _sign_with_intent(actor, app, purpose, duration, base)
    return _exchange(actor, app, role_arn, duration, signed), app, duration


@sensitive_variables("signed")
def _create_session_failed(
    actor: User, app: AwsApp, signed: _Signed, exc: Exception
) -> IssuanceError:
    """Record the failed outcome of a CreateSession and say why: AWS refused, AWS may have made
    a session it never answered with (timeout, lost connection), or the request could not be
    built from the stored app (an ARN the sync accepted but awsra refuses, say)."""
    details = signed.details
    if not isinstance(exc, awsra.AwsError):
        issuance_outcome_record(
            actor=actor,
            app=app,
            intent=signed.intent,
            details={**details, "reason": str(exc)[:2000]},
            succeeded=False,
        )
        return IssuanceError(
            f"Rolegate could not build the request to AWS: {exc}",
            hint="An operator should check the integration's trust anchor ARN and the app.",
        )
    unknown = isinstance(exc, awsra.AnswerTimeoutError | awsra.ConnectionLostError)
    issuance_outcome_record(
        actor=actor,
        app=app,
        intent=signed.intent,
        details={**details, "aws_error_code": exc.code, "aws_error": exc.message[:2000]},
        succeeded=False,
        session_may_exist=unknown,
    )
    if unknown:
        return IssuanceError(
            f"AWS did not answer in time ({exc.code}): {exc.message}. AWS may have created "
            "a session that Rolegate never received; none was handed out, and the audit "
            "log records the attempt.",
            hint=_UNKNOWN_OUTCOME_HINT,
            aws_code=exc.code,
            retryable=True,
        )
    return _aws_failure(exc)


def aws_credentials_issue(
    *,
    actor: User,
    app_name: str,
    role_arn: str,
    duration_seconds: int | None = None,
    purpose: str,
    login_expires_at: datetime | None = None,
) -> awsra.Credentials:
    """Issue AWS credentials for `role_arn` on `app_name` to `actor`, audited, fail closed.

    The credentials never outlive the actor's access to the role (nor `login_expires_at`,
    the CLI login's end). Raises `AppNotFound` (no such app), `AccessDenied` (app or role not
    allowed, or access ending too soon), `IssuanceError` (AWS refused or failed; `.hint` says
    what to check) or `AuditUnavailable`.
    """
    credentials, _, _ = _issue(
        actor=actor,
        app_name=app_name,
        role_arn=role_arn,
        duration_seconds=duration_seconds,
        purpose=purpose,
        extra={},
        login_expires_at=login_expires_at,
    )
    return credentials
