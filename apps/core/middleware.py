"""Request context, NUL refusal, and the session idle and absolute timeouts."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout, user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from apps.core.context import RequestContext, reset_context, set_context
from apps.core.proxies import client_address, current_trust, parse_address

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{8,64}\Z")
SIGNED_IN_AT = "rolegate_signed_in_at"
_NUL_REFUSAL = "The request contains a NUL character (%00), which no Rolegate field accepts.\n"


def has_nul(request: HttpRequest) -> bool:
    """True when the path, a query parameter or a form field holds a NUL character.

    PostgreSQL cannot store or compare text holding NUL, so such a value reaching a lookup
    (an app name in the path, a user name in a query) would fail with a database error (a 500).
    JSON bodies are not parsed here; the API validates them itself.
    """
    if "\x00" in request.path:
        return True
    forms = [request.GET]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        forms.append(request.POST)
    return any(
        "\x00" in key or any("\x00" in value for value in form.getlist(key))
        for form in forms
        for key in form
    )


def client_ip(request: HttpRequest) -> str | None:
    """The client's address; X-Forwarded-For counts only as far as trusted proxies wrote it."""
    return client_address(request)


class ProxyHeadersMiddleware:
    """Drop forwarding headers a direct, untrusted peer sent (before anything reads them).

    ``SECURE_PROXY_SSL_HEADER`` makes Django believe ``X-Forwarded-Proto``; with trusted proxy
    networks configured, only those networks may set it (and X-Forwarded-For).
    """

    _FORWARDING = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        trust = current_trust()
        if not trust.peer_is_trusted(parse_address(request.META.get("REMOTE_ADDR"))):
            for name in self._FORWARDING:
                request.META.pop(name, None)
        return self.get_response(request)


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
            if has_nul(request):
                response: HttpResponse = HttpResponseBadRequest(
                    _NUL_REFUSAL, content_type="text/plain; charset=utf-8"
                )
            else:
                response = self.get_response(request)
        finally:
            reset_context(token)
        response["X-Request-ID"] = request_id
        return response

    @staticmethod
    def _enforce_idle_timeout(request: HttpRequest) -> None:
        if not hasattr(request, "session") or not request.user.is_authenticated:
            return
        now = int(time.time())
        # Saving the session (the idle bookkeeping below does) slides its expiry date forward,
        # so SESSION_COOKIE_AGE alone never ends a session in use: the absolute limit is here.
        signed_in_at = request.session.get(SIGNED_IN_AT)
        if not isinstance(signed_in_at, int):
            request.session[SIGNED_IN_AT] = now  # a session from before this check existed
        elif now - signed_in_at > int(settings.SESSION_COOKIE_AGE):
            logout(request)
            return
        idle = int(getattr(settings, "ROLEGATE_SESSION_IDLE_TIMEOUT", 0))
        if not idle:
            return
        last = request.session.get("rolegate_last_seen")
        if isinstance(last, int) and now - last > idle:
            logout(request)
            return
        # Write at most once a minute so every request does not rewrite the session row.
        if not isinstance(last, int) or now - last >= 60:
            request.session["rolegate_last_seen"] = now


@receiver(user_logged_in, dispatch_uid="rolegate-session-signed-in-at")
def _stamp_sign_in(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """Start the absolute session lifetime at every sign-in (password, SSO, admin)."""
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = int(time.time())
