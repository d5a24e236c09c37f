"""Request context and session idle timeout."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from apps.core.context import RequestContext, reset_context, set_context

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{8,64}\Z")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address; X-Forwarded-For is trusted only when configured."""
    if getattr(settings, "ROLEGATE_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Expose IP, user agent and a request id to services; end idle sessions."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        token = set_context(
            RequestContext(
                client_ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:512],
                request_id=request_id,
            )
        )
        try:
            self._enforce_idle_timeout(request)
            response = self.get_response(request)
        finally:
            reset_context(token)
        response["X-Request-ID"] = request_id
        return response

    @staticmethod
    def _enforce_idle_timeout(request: HttpRequest) -> None:
        idle = int(getattr(settings, "ROLEGATE_SESSION_IDLE_TIMEOUT", 0))
        if not idle or not hasattr(request, "session") or not request.user.is_authenticated:
            return
        now = int(time.time())
        last = request.session.get("rolegate_last_seen")
        if isinstance(last, int) and now - last > idle:
            logout(request)
            return
        # Write at most once a minute so every request does not rewrite the session row.
        if not isinstance(last, int) or now - last >= 60:
            request.session["rolegate_last_seen"] = now
