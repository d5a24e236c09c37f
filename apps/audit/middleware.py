"""Seal a request's audit events after its response is sent, not before.

The events are committed inside the request (an issuance never hands out credentials its audit
rows do not record); only the chain's append (a lock, the head, the links) waits until the
server closes the response, which a WSGI server does once the body is written. The seal runs
as one of the response's closers, so before Django's own end-of-request clean-up
(`close_old_connections` on `request_finished`) and on the request's database connection.

Each request gets its own list, reset when the middleware returns: a nested request keeps the
outer one's list, and code that runs after a response that is never closed (an unread stream in
a test) seals at commit again. A response never closed (a worker killed mid-write) leaves its
events to the beat sweep, like any failed seal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.http import HttpRequest, HttpResponseBase

from apps.audit.chain import after_response, seal_now


class SealAfterResponseMiddleware:
    """Collect the events a request commits and seal them when its response is closed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        pending: list[int] = []
        token = after_response.set(pending)
        try:
            response = self.get_response(request)
        finally:
            after_response.reset(token)
        if pending:
            request_id = str(response.get("X-Request-ID", ""))
            # Django runs a response's closers in close(), before `request_finished`; it adds
            # its own the same way (the request's files, a FileResponse's file).
            closers: list[Callable[[], object]]
            closers = response._resource_closers  # type: ignore[attr-defined]  # not in the stubs
            closers.append(partial(seal_now, *pending, request_id=request_id))
        return response
