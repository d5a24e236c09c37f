"""Single sign-on views: mozilla-django-oidc's request and callback views, made strict.

The request view keeps the library's state, nonce and PKCE handling but takes its endpoints from
lazy discovery and checks ``next`` with the project's one open-redirect check. The callback view
checks the state itself, audits every refusal with its reason and signs the user in.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import auth, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from apps.accounts import services, signin
from apps.accounts.forms import LoginForm
from apps.accounts.oidc import provider
from apps.accounts.oidc.backend import OIDC_BACKEND
from apps.core.context import current_context
from apps.core.policies import anonymous_allowed
from apps.core.redirects import safe_next_url

# A sign-in left unfinished at the identity provider for longer than this must start again.
STATE_MAX_AGE = 15 * 60
NEXT_SESSION_KEY = "oidc_login_next"
UNKNOWN_USER = "(sso)"


def _refuse(
    request: HttpRequest, reason: str, *, status: int, username: str = ""
) -> TemplateResponse:
    """Audit a refused SSO sign-in and show the sign-in page with the reason."""
    signin.sign_in_refused(
        request=request, username=username or UNKNOWN_USER, reason=reason, method="oidc"
    )
    messages.error(request, f"Single sign-on failed: {reason}.")
    next_url = safe_next_url(request, request.session.get(NEXT_SESSION_KEY))
    context = {
        "form": LoginForm(),
        "next": next_url,
        "password_login": getattr(settings, "ROLEGATE_PASSWORD_LOGIN", True),
        "sso_enabled": provider.oidc_enabled(),
    }
    return TemplateResponse(request, "accounts/login.html", context, status=status)


class OidcAuthenticateView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Start the authorization code flow (state, nonce, PKCE S256) at the identity provider."""

    def __init__(self, **kwargs: Any) -> None:
        # The library reads endpoints here; ours come from discovery when the view runs.
        View.__init__(self, **kwargs)

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        """Settings the library asks for, derived from ``ROLEGATE_OIDC_*`` and discovery."""
        return provider.oidc_setting(attr, *args)

    def get(self, request: HttpRequest) -> HttpResponseBase:
        """Redirect to the provider's authorization endpoint."""
        if not provider.oidc_enabled():
            raise Http404("Single sign-on is not configured.")
        next_url = safe_next_url(request, request.GET.get("next"))
        try:
            metadata = provider.provider_metadata()
        except provider.OidcError as error:
            request.session[NEXT_SESSION_KEY] = next_url
            return _refuse(request, error.reason, status=error.status)
        self.OIDC_OP_AUTH_ENDPOINT = metadata.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = str(settings.ROLEGATE_OIDC_CLIENT_ID)
        response: HttpResponseBase = super().get(request)
        # The library checks `next` with Django's host check only; ours also refuses
        # encoded and backslash tricks (apps.core.redirects).
        request.session[NEXT_SESSION_KEY] = next_url
        return response


class OidcCallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """Finish the flow: check state, exchange the code, validate tokens, sign the user in."""

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        """Settings the library asks for, derived from ``ROLEGATE_OIDC_*`` and discovery."""
        return provider.oidc_setting(attr, *args)

    def _take_state(self, request: HttpRequest) -> dict[str, Any] | None:
        """Remove and return this callback's pending sign-in, so a state works only once."""
        state = request.GET.get("state")
        pending = request.session.get("oidc_states")
        if not state or not isinstance(pending, dict) or state not in pending:
            return None
        entry = pending.pop(state)
        request.session.modified = True
        request.session.save()
        return entry if isinstance(entry, dict) else None

    def get(self, request: HttpRequest) -> HttpResponse:
        """Handle the provider's redirect back to Rolegate."""
        if not provider.oidc_enabled():
            raise Http404("Single sign-on is not configured.")
        entry = self._take_state(request)
        error = request.GET.get("error")
        if error:
            # An error response signs nobody in, so it is reported even without a valid state
            # (some providers omit the state on errors); the pending state is spent either way.
            code = "".join(c for c in error[:64] if c.isalnum() or c in "_-") or "unknown"
            return _refuse(request, f"the identity provider returned {code!r}", status=403)
        if entry is None:
            return _refuse(request, "the sign-in state does not match this browser", status=400)
        if services.login_is_throttled(
            username=UNKNOWN_USER, client_ip=current_context().client_ip
        ):
            return _refuse(request, signin.THROTTLED, status=429)
        if time.time() - float(entry.get("added_on") or 0) > STATE_MAX_AGE:
            return _refuse(request, "the sign-in took too long; start again", status=400)
        try:
            user = auth.authenticate(
                request,
                oidc_callback=True,
                nonce=entry.get("nonce"),
                code_verifier=entry.get("code_verifier"),
            )
        except provider.OidcError as refusal:
            return _refuse(
                request, refusal.reason, status=refusal.status, username=refusal.username
            )
        if user is None:
            return _refuse(request, "single sign-on is not available", status=403)
        next_url = safe_next_url(request, request.session.get(NEXT_SESSION_KEY))
        auth.login(request, user, backend=OIDC_BACKEND)
        request.session.pop(NEXT_SESSION_KEY, None)
        return redirect(next_url)


oidc_authenticate = anonymous_allowed(OidcAuthenticateView.as_view())
oidc_callback = anonymous_allowed(OidcCallbackView.as_view())
