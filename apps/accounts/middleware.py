"""Sessions opened before the OIDC sub-app became a package keep working.

Django stores the dotted path of the backend that signed a session in, and signs the session out
when that path is no longer in ``AUTHENTICATION_BACKENDS``. Both backends moved from
``apps/accounts/oidc_backend.py`` to ``apps/accounts/oidc/backend.py``; this rewrites the stored
path of an older session once, so a deploy does not sign everyone out. It can go once every
session from before the move has expired (``ROLEGATE_SESSION_MAX_AGE``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.http import HttpRequest, HttpResponse

LEGACY_BACKENDS = {
    "apps.accounts.oidc_backend.PasswordBackend": "apps.accounts.oidc.backend.PasswordBackend",
    "apps.accounts.oidc_backend.OidcBackend": "apps.accounts.oidc.backend.OidcBackend",
}


class LegacyBackendPathMiddleware:
    """Rewrite a session's pre-move backend path (only requests that carry a session cookie)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and settings.SESSION_COOKIE_NAME in request.COOKIES:
            stored = session.get(BACKEND_SESSION_KEY)
            if stored in LEGACY_BACKENDS:
                session[BACKEND_SESSION_KEY] = LEGACY_BACKENDS[stored]
        return self.get_response(request)
