"""Typed errors for AWS calls: what the service said, mapped to what a caller should do."""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = [
    "AccessDeniedError",
    "AnswerTimeoutError",
    "AwsError",
    "AwsTimeoutError",
    "ConnectionLostError",
    "ResourceNotFoundError",
    "ServerError",
    "SignatureError",
    "ThrottlingError",
    "TransientError",
    "ValidationError",
    "VerificationError",
    "error_from_response",
]


class AwsError(Exception):
    """An error answered by (or on the way to) an AWS endpoint."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, message={self.message!r}, status={self.status!r})"


class AccessDeniedError(AwsError):
    """The caller is not allowed to do this (HTTP 403, AccessDeniedException)."""


class ValidationError(AwsError):
    """The request was malformed or out of range (HTTP 400, ValidationException)."""


class ResourceNotFoundError(AwsError):
    """A named resource does not exist (HTTP 404, ResourceNotFoundException)."""


class TransientError(AwsError):
    """An error worth retrying with backoff: throttling, 5xx, timeouts, connection failures."""


class ThrottlingError(TransientError):
    """The service rate-limited the call (HTTP 429 or a throttling code)."""


class ServerError(TransientError):
    """The service failed (HTTP 5xx) or could not be reached."""


class AwsTimeoutError(TransientError):
    """The call did not complete within its timeout."""


class AnswerTimeoutError(AwsTimeoutError):
    """The request was sent but no answer came in time: the service may have acted on it.

    Safe to retry only for reads; a retried CreateSession would make a second session.
    """


class ConnectionLostError(ServerError):
    """The connection broke after the request was sent: the service may have acted on it."""


class SignatureError(Exception):
    """A request could not be signed (bad key, certificate or input)."""


class VerificationError(Exception):
    """A signed request was refused by the verifier; `reason` says precisely why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "LimitExceededException",
    }
)
_SERVER_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "InternalError",
    }
)
_CODE_CLASSES: dict[str, type[AwsError]] = {
    "AccessDeniedException": AccessDeniedError,
    "AccessDenied": AccessDeniedError,
    "UnrecognizedClientException": AccessDeniedError,
    "InvalidClientTokenId": AccessDeniedError,
    "ExpiredTokenException": AccessDeniedError,
    "SignatureDoesNotMatch": AccessDeniedError,
    "ValidationException": ValidationError,
    "ValidationError": ValidationError,
    "InvalidParameterValue": ValidationError,
    "TooManyTagsException": ValidationError,
    "ResourceNotFoundException": ResourceNotFoundError,
    "NoSuchEntity": ResourceNotFoundError,
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _clean_code(raw: str) -> str:
    """Strip the decorations AWS adds to error codes.

    `X-Amzn-ErrorType` may carry a `:` suffix (`AccessDeniedException:http://internal.amazon.com/`),
    and `__type` may carry a namespace (`com.amazon.coral.service#ThrottlingException`).
    """
    code = raw.split(":", 1)[0].strip()
    return code.rsplit("#", 1)[-1].strip()


def _body_fields(body: bytes | str | None) -> tuple[str | None, str | None]:
    if not body:
        return None, None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    code = None
    for key in ("code", "Code", "__type"):
        value = data.get(key)
        if isinstance(value, str) and value:
            code = value
            break
    message = None
    for key in ("message", "Message", "errorMessage"):
        value = data.get(key)
        if isinstance(value, str):
            message = value
            break
    error = data.get("Error")
    if isinstance(error, dict):  # the AWS query protocol's JSON shape
        if code is None and isinstance(error.get("Code"), str):
            code = error["Code"]
        if message is None and isinstance(error.get("Message"), str):
            message = error["Message"]
    return code, message


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes | str | None
) -> AwsError:
    """Map an AWS error response (restJson1 style) to a typed AwsError."""
    body_code, message = _body_fields(body)
    header_code = _header(headers, "X-Amzn-ErrorType")
    raw_code = header_code or body_code
    code = _clean_code(raw_code) if raw_code else ""
    if not code:
        code = f"HTTP{status}"
    if message is None:
        if isinstance(body, bytes | bytearray):
            text = bytes(body[:300]).decode("utf-8", "replace")
        else:
            text = (body or "")[:300]
        message = text.strip() or f"HTTP {status} with no error message"
    cls: type[AwsError]
    if code in _THROTTLING_CODES or status == 429:
        cls = ThrottlingError
    elif code in _CODE_CLASSES:
        cls = _CODE_CLASSES[code]
    elif code in _SERVER_CODES or status >= 500:
        cls = ServerError
    elif status == 403:
        cls = AccessDeniedError
    elif status == 404:
        cls = ResourceNotFoundError
    elif status == 400:
        cls = ValidationError
    else:
        cls = AwsError
    return cls(code, message, status)
