"""Per-request context (client IP, user agent, request id) for audit events."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """Who is calling, as the web layer saw it."""

    client_ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "rolegate_request_context",
    default=RequestContext(),  # noqa: B039 - a frozen dataclass, so sharing it is safe
)


def current_context() -> RequestContext:
    """The context of the request being served (empty outside a request)."""
    return _current.get()


def set_context(context: RequestContext) -> contextvars.Token[RequestContext]:
    """Install a context; return the token to reset it."""
    return _current.set(context)


def reset_context(token: contextvars.Token[RequestContext]) -> None:
    """Restore the previous context."""
    _current.reset(token)
