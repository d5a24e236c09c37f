"""The console launch: the one issuance path (purpose "console"), then a federation sign-in URL.

Region and destination are checked before anything is issued, so bad input costs no credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, transaction
from django.views.decorators.debug import sensitive_variables

import awsra
from apps.accounts.models import User
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.resources.errors import IssuanceError, LaunchInputError
from apps.resources.models import AwsApp
from apps.resources.queries import Decided, app_decided
from apps.resources.services.issuance import _issue
from apps.resources.services.refusals import _audit_refusal, _aws_failure
from awsra import federation, partitions

__all__ = [
    "EVENT_CONSOLE_SIGNIN",
    "ConsoleLaunch",
    "console_destination_for",
    "console_launch",
    "console_region_for",
]

log = logging.getLogger(__name__)

SIGNIN_TOKEN_ATTEMPT_TIMEOUT = 5.0
EVENT_CONSOLE_SIGNIN = events.AWS_CONSOLE_SIGNED_IN


@dataclass(frozen=True)
class ConsoleLaunch:
    """Where to send the browser: the partition's federation login URL (holds a sign-in token)."""

    url: str
    role_arn: str
    region: str
    expiration: str

    def __repr__(self) -> str:  # the URL carries a sign-in token: keep it out of logs
        return f"ConsoleLaunch(role_arn={self.role_arn!r}, region={self.region!r})"


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
