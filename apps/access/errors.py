"""Errors raised when the access engine refuses something."""

from __future__ import annotations

from apps.core.errors import DomainError


class AccessDenied(DomainError):
    """The user may not do this; `message` is safe to show them (it names no hidden resource)."""

    code = "access_denied"
    status = 403

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)
