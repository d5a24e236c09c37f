"""Errors of the Resources page and of credential issuance, each with a message fit for users.

All are `apps.core.errors.DomainError`s: their `status` is the answer on the web and on the API
alike, their `code` the API's machine code.
"""

from __future__ import annotations

from apps.core.errors import DomainError

NOT_FOUND_OR_NOT_ALLOWED = "App {name!r} was not found, or you are not allowed to use it."


class LaunchError(DomainError):
    """Base of the Launch and issuance errors: `message` is safe to show to the person who asked
    (not `apps.core.registry.ResourceError`, which is about resource documents)."""

    code = "launch_failed"
    status = 400


class AppNotFound(LaunchError):
    """No app has this name (worded like a refusal, so it never confirms what exists)."""

    code = "app_not_found"
    status = 404

    def __init__(self, app_name: str) -> None:
        super().__init__(NOT_FOUND_OR_NOT_ALLOWED.format(name=app_name))
        self.app_name = app_name


class AuditUnavailable(LaunchError):
    """The audit event could not be written, so no credentials were handed out (fail closed)."""

    code = "audit_unavailable"
    status = 503
    retryable = True

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "Rolegate could not record this request in its audit log, so it issued no "
            "credentials. Try again; if it keeps failing, an operator should check the database."
        )


class IssuanceError(LaunchError):
    """Credentials could not be issued; `hint` tells an operator what to check.

    One rule decides the status, on every surface: AWS unavailable or busy (retryable) is 503
    ``aws_unavailable``; AWS refused (an AWS error code, not retryable) is 502 ``aws_error``;
    anything else (bad input, an account or authority Rolegate cannot issue for) is 422
    ``issuance_refused``.
    """

    code = "issuance_refused"
    status = 422

    def __init__(
        self, message: str, *, hint: str = "", aws_code: str = "", retryable: bool = False
    ) -> None:
        if retryable:
            code, status = "aws_unavailable", 503
        elif aws_code:
            code, status = "aws_error", 502
        else:
            code, status = self.code, self.status
        super().__init__(message, code=code, status=status, retryable=retryable)
        self.hint = hint
        self.aws_code = aws_code


class LaunchInputError(LaunchError):
    """A launch request with a bad region or console destination (a 400, never a redirect)."""

    code = "invalid_launch"
    status = 400
