"""Writes for AWS apps: the one credential-issuance path, console launch, and per-user pins.

`aws_credentials_issue` is the only function in Rolegate that turns (user, app, IAM role) into
AWS credentials; the console launch here and the CLI API both call it. Order of work:

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
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

import awsra
from apps.access import selectors as access
from apps.access.access_end import issuance_duration
from apps.access.errors import AccessDenied
from apps.accounts.models import User
from apps.accounts.usernames import RESERVED_USERNAMES
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.authority.pki import CaKeyError
from apps.authority.services import IssuedCertificate, RotationError, certificate_issue
from apps.core.hooks import session_revocation
from apps.core.ratelimit import RateLimited, rate_limit_hit
from apps.resources.errors import (
    AppNotFound,
    AuditUnavailable,
    IssuanceError,
    LaunchInputError,
)
from apps.resources.issuance_audit import (
    EVENT_CREDENTIALS_ISSUED,
    EVENT_CREDENTIALS_REQUESTED,
    issuance_intent_record,
    issuance_outcome_record,
)
from apps.resources.metrics import observe_issuance
from apps.resources.models import AwsApp
from apps.resources.models_user import AppUserState
from apps.resources.queries import Decided, app_decided, app_get
from awsra import federation, partitions
from awsra.arn import is_valid_role_arn

ISSUANCE_RATE_WINDOW = 60

__all__ = [
    "EVENT_CONSOLE_SIGNIN",
    "EVENT_CREDENTIALS_ISSUED",
    "EVENT_CREDENTIALS_REQUESTED",
    "MAX_DURATION_SECONDS",
    "MIN_DURATION_SECONDS",
    "ConsoleLaunch",
    "Decided",
    "app_decided",
    "app_pin_set",
    "aws_credentials_issue",
    "console_launch",
    "issuance_intent_record",
    "issuance_outcome_record",
    "role_session_name_for",
    "session_duration_seconds",
]

log = logging.getLogger(__name__)

# One CreateSession attempt's timeout; the whole call is capped by ROLEGATE_ISSUANCE_TIMEOUT.
CREATE_SESSION_ATTEMPT_TIMEOUT = 10.0
SIGNIN_TOKEN_ATTEMPT_TIMEOUT = 5.0
EVENT_CONSOLE_SIGNIN = events.AWS_CONSOLE_SIGNED_IN
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
_UNKNOWN_OUTCOME_HINT = (
    "AWS did not answer in time. Any session it made expires on its own; an operator can find "
    "it in CloudTrail by the certificate serial recorded in the audit log. Try again in a minute."
)
# AWS's words when its clock and Rolegate's disagree (the request date, or the leaf's validity).
_CLOCK_ERROR = re.compile(
    r"away from server time|signature expired|not valid before|certificate expired|not yet valid",
    re.IGNORECASE,
)
_CLOCK_HINT = (
    "Rolegate's clock and AWS's disagree by more than AWS allows (5 minutes): an operator should "
    "check that the Rolegate server's clock is synchronized (NTP)."
)


@dataclass(frozen=True)
class ConsoleLaunch:
    """Where to send the browser: the partition's federation login URL (holds a sign-in token)."""

    url: str
    role_arn: str
    region: str
    expiration: str

    def __repr__(self) -> str:  # the URL carries a sign-in token: keep it out of logs
        return f"ConsoleLaunch(role_arn={self.role_arn!r}, region={self.region!r})"


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


# --- audit helpers ----------------------------------------------------------------------------


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


# --- the one issuance path --------------------------------------------------------------------


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


# --- console launch ---------------------------------------------------------------------------


def console_region_for(app: AwsApp, region: str | None) -> str:
    """The console region: the one asked for, else the profile's, else the default region.

    Raises `LaunchInputError` for a malformed region or one outside the app's partition.
    """
    chosen = (region or "").strip() or app.region or settings.ROLEGATE_DEFAULT_REGION
    try:
        partitions.validate_region(chosen)
        if partitions.partition_for_region(chosen).name != app.partition:
            raise ValueError(f"region {chosen!r} is not in the {app.partition} partition")
    except ValueError as exc:
        raise LaunchInputError(f"Pick another region: {exc}.") from None
    return chosen


def console_destination_for(app: AwsApp, region: str, destination: str | None) -> str:
    """The console URL to land on, built from the partition table; `destination` is a path only.

    Raises `LaunchInputError` for anything that is not a console path (full URLs, `//host`,
    backslashes, control characters), so the browser can only ever end up on the console.
    """
    path = (destination or "").strip() or None
    try:
        return partitions.console_destination(app.partition, region, path)
    except ValueError as exc:
        raise LaunchInputError(
            f"The destination must be a console path such as /s3/home: {exc}."
        ) from None


@sensitive_variables("credentials", "token")
def console_launch(
    *,
    actor: User,
    app_name: str,
    role_arn: str,
    region: str | None = None,
    destination: str | None = None,
    decided: Decided | None = None,
    login_expires_at: datetime | None = None,
) -> ConsoleLaunch:
    """Sign `actor` in to the AWS console as `role_arn` on `app_name`: the federation login URL.

    The same issuance path as the CLI (purpose "console"), then getSigninToken, then the
    partition's `Action=login` URL with Issuer = ROLEGATE_PUBLIC_URL. Input is validated before
    anything is issued, so a bad region or destination costs no credentials.
    """
    if decided is None or decided.app.name != app_name:
        decided = app_decided(actor, app_name)
    console_region, target = _console_input(actor, decided, role_arn, region, destination)
    credentials, app, duration = _issue(
        actor=actor,
        app_name=app_name,
        role_arn=role_arn,
        duration_seconds=None,
        purpose="console",
        extra={"console_region": console_region, "destination": target},
        decided=decided,
        login_expires_at=login_expires_at,
    )
    # `_issue` refuses (raises) for every app `_console_input` did not judge.
    assert console_region is not None
    assert target is not None
    url = _console_sign_in_url(actor, app, role_arn, credentials, target, duration)
    return ConsoleLaunch(
        url=url,
        role_arn=role_arn,
        region=console_region,
        expiration=credentials.expiration.isoformat(),
    )


def _console_input(
    actor: User,
    decided: Decided | None,
    role_arn: str,
    region: str | None,
    destination: str | None,
) -> tuple[str | None, str | None]:
    """The console region and destination URL, checked before anything is issued.

    Input is only judged for an app the user may see: a refusal for a hidden app must read the
    same as for a missing one, whatever the region or destination asked for, so (None, None)
    then and issuance refuses.
    """
    if decided is None or not decided.decision.allowed:
        return None, None
    app = decided.app
    try:
        console_region = console_region_for(app, region)
        return console_region, console_destination_for(app, console_region, destination)
    except LaunchInputError as exc:
        # Refused before anything is issued, but still a refusal: it goes in the audit log.
        _audit_refusal(
            actor=actor,
            app_name=app.name,
            outcome=AuditEvent.Outcome.DENIED,
            details={
                "app": app.name,
                "role_arn": str(role_arn)[:300],
                "purpose": "console",
                "reason": f"invalid launch input: {exc.message}"[:500],
            },
        )
        raise


def _console_sign_in_url(
    actor: User,
    app: AwsApp,
    role_arn: str,
    credentials: awsra.Credentials,
    target: str,
    duration: int,
) -> str:
    """getSigninToken for the issued credentials, then the partition's login URL; a failure is
    audited and raised as an IssuanceError (AWS refused or busy, or the URL cannot be built)."""
    try:
        # Bounded like CreateSession, so the whole launch stays under the web server's
        # timeout: ROLEGATE_ISSUANCE_TIMEOUT plus at most two short sign-in token attempts.
        # The console session ends with the credentials' access too (SessionDuration).
        token = federation.get_signin_token(
            credentials,
            partition=app.partition,
            timeout=SIGNIN_TOKEN_ATTEMPT_TIMEOUT,
            max_attempts=2,
            session_duration=duration,
        )
        return federation.login_url(
            signin_token=token,
            destination=target,
            issuer=settings.ROLEGATE_PUBLIC_URL,
            partition=app.partition,
        )
    except awsra.AwsError as exc:
        _audit_console_failure(actor, app, role_arn, f"{exc.code}: {exc.message}")
        failure = _aws_failure(exc)
        raise IssuanceError(
            f"The AWS console sign-in endpoint refused the credentials ({exc.code}): "
            f"{exc.message or 'no message'}",
            hint=failure.hint
            if failure.retryable
            else "An operator should check that ROLEGATE_AWS_SIGNIN_URL (if set) points at the "
            "partition's federation endpoint and that the role allows console sign-in.",
            aws_code=exc.code,
            retryable=failure.retryable,
        ) from None
    except ValueError as exc:
        _audit_console_failure(actor, app, role_arn, str(exc))
        raise IssuanceError(
            f"Rolegate could not build the console sign-in URL: {exc}",
            hint="An operator should check ROLEGATE_PUBLIC_URL and ROLEGATE_AWS_SIGNIN_URL.",
        ) from None


def _audit_console_failure(actor: User, app: AwsApp, role_arn: str, message: str) -> None:
    try:
        with transaction.atomic():
            audit_record(
                event_type=EVENT_CONSOLE_SIGNIN,
                actor=actor,
                outcome=AuditEvent.Outcome.ERROR,
                target_kind="app",
                target_name=app.name,
                details={"app": app.name, "role_arn": role_arn, "error": message[:2000]},
            )
    except DatabaseError:
        log.exception("could not audit a console sign-in failure for %s", app.name)


# --- pins -------------------------------------------------------------------------------------


def app_pin_set(*, actor: User, app_name: str, pinned: bool) -> bool:
    """Pin or unpin an app on the actor's Resources page; returns the new state.

    Only apps the actor may access can be pinned; anything else raises `AppNotFound`, worded
    the same for missing and hidden apps.
    """
    app = app_get(app_name)
    if app is None or not access.allowed_aws_roles(actor, app):
        raise AppNotFound(str(app_name)[:255])
    with transaction.atomic():
        state, created = AppUserState.objects.select_for_update().get_or_create(
            user=actor, app_name=app.name, defaults={"pinned": pinned}
        )
        if not created and state.pinned != pinned:
            state.pinned = pinned
            state.save(update_fields=["pinned"])
    return pinned
