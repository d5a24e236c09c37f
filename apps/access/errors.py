"""Errors raised when the access engine refuses something."""

from __future__ import annotations


class AccessDenied(Exception):
    """The user may not do this; `message` is safe to show them (it names no hidden resource)."""

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)
        self.message = message
