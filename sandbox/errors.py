"""Errors the sandbox returns, shaped as AWS sends them (restJson1)."""

from __future__ import annotations


class ApiError(Exception):
    """An AWS-style error: code, HTTP status and message, sent with `X-Amzn-ErrorType`."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def access_denied(message: str) -> ApiError:
    """403 AccessDeniedException, the answer to every authentication/authorization refusal."""
    return ApiError("AccessDeniedException", message, 403)


def validation(message: str) -> ApiError:
    """400 ValidationException for malformed input."""
    return ApiError("ValidationException", message, 400)


def not_found(message: str) -> ApiError:
    """404 ResourceNotFoundException."""
    return ApiError("ResourceNotFoundException", message, 404)


def too_many_tags(message: str) -> ApiError:
    """400 TooManyTagsException."""
    return ApiError("TooManyTagsException", message, 400)
