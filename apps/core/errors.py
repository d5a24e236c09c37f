"""The one domain error family, and its mapping on each surface.

Services raise a `DomainError` subclass; each carries, as class attributes an instance may
override,

- ``message``: one line safe to show to whoever asked (it names no hidden resource),
- ``code``: a stable machine code (the API's ``code``, which the CLI maps to exit codes),
- ``status``: the HTTP status, the same on the web and on the API,
- ``retryable``: whether the same request may succeed later unchanged.

Each surface maps them in one place: the API with one django-ninja exception handler
(`apps/api/api.py`, via `api_body`), the web and htmx with `web_error_response`, management
commands with `command_errors`, and the CLI with its table of API codes (`rolegate/errors.py`).
Nothing here imports an app: this module is part of the kernel.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.management.base import CommandError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


class DomainError(Exception):
    """Base of every error a service raises for its caller to show."""

    code: str = "error"
    status: int = 400
    retryable: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        message = message or self.default_message()
        super().__init__(message)
        self.message = message
        # Instances may refine the class's mapping (an IssuanceError retryable from AWS, say).
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if retryable is not None:
            self.retryable = retryable

    @classmethod
    def default_message(cls) -> str:
        """The message when none is given (subclasses with a better one override this)."""
        return "Rolegate could not complete this request."

    def headers(self) -> dict[str, str]:
        """Extra response headers on every surface (``Retry-After`` for rate limits)."""
        return {}

    def body(self) -> dict[str, Any]:
        """The API's JSON error body: ``{detail, code}`` (subclasses may add fields)."""
        return {"detail": self.message, "code": self.code}


def domain_error_classes() -> list[type[DomainError]]:
    """Every DomainError subclass imported so far, the base included (for the table test)."""
    seen: list[type[DomainError]] = []
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen.append(cls)
            pending.extend(cls.__subclasses__())
    return sorted(seen, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


# --- web and htmx ------------------------------------------------------------------------------

ERROR_TEMPLATE = "core/error.html"
ERROR_FRAGMENT_TEMPLATE = "core/error_fragment.html"


def web_error_response(
    request: HttpRequest,
    error: DomainError,
    *,
    template: str | None = None,
    context: Mapping[str, Any] | None = None,
    status: int | None = None,
) -> HttpResponse:
    """The web and htmx answer to a DomainError: `template` (the page the request came from,
    with ``error`` in its context) or the generic error page, or for an htmx request without a
    template the error fragment; always with the error's status and headers.

    `status` is only for the rare page that must answer differently from the API (none today).
    """
    if template is None:
        is_htmx = bool(getattr(request, "htmx", False))
        template = ERROR_FRAGMENT_TEMPLATE if is_htmx else ERROR_TEMPLATE
    answer = status if status is not None else error.status
    full_context = {
        "error": error.message,
        "error_code": error.code,
        "error_status": answer,
        **(context or {}),
    }
    response = TemplateResponse(request, template, full_context, status=answer)
    for name, value in error.headers().items():
        response[name] = value
    return response


# --- management commands -----------------------------------------------------------------------


@contextmanager
def command_errors(suffix: str = "") -> Iterator[None]:
    """Turn a DomainError raised inside into a CommandError with its message and `suffix`
    (exit status 1, one line on stderr, no traceback)."""
    try:
        yield
    except DomainError as error:
        raise CommandError(f"{error.message}{suffix}") from None
