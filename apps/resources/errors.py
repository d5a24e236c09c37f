"""Errors of the Resources page and of credential issuance, each with a message fit for users."""

from __future__ import annotations

NOT_FOUND_OR_NOT_ALLOWED = "App {name!r} was not found, or you are not allowed to use it."


class LaunchError(Exception):
    """Base of the Launch and issuance errors: `message` is safe to show to the person who asked
    (not `apps.core.registry.ResourceError`, which is about resource documents)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AppNotFound(LaunchError):
    """No app has this name (worded like a refusal, so it never confirms what exists)."""

    def __init__(self, app_name: str) -> None:
        super().__init__(NOT_FOUND_OR_NOT_ALLOWED.format(name=app_name))
        self.app_name = app_name


class AuditUnavailable(LaunchError):
    """The audit event could not be written, so no credentials were handed out (fail closed)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "Rolegate could not record this request in its audit log, so it issued no "
            "credentials. Try again; if it keeps failing, an operator should check the database."
        )


class IssuanceError(LaunchError):
    """Credentials could not be issued; `hint` tells an operator what to check."""

    def __init__(
        self, message: str, *, hint: str = "", aws_code: str = "", retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.aws_code = aws_code
        self.retryable = retryable


class LaunchInputError(LaunchError):
    """A launch request with a bad region or console destination (a 400, never a redirect)."""
