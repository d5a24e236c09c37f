"""Authentication backends: local passwords (which can be switched off) and OpenID Connect."""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import absolutify

from apps.accounts import services, signin
from apps.accounts.models import User
from apps.accounts.oidc import provider
from apps.accounts.oidc.services import sso_user_sync
from apps.core.context import current_context

OIDC_BACKEND = signin.OIDC_BACKEND


class PasswordBackend(ModelBackend):
    """Django's username/password backend, refusing everything when password sign-in is off.

    Guarding here rather than in one view covers every caller of ``authenticate()``: the login
    page, the admin login and the CLI's password login through the API.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Check a local password, unless sign-in is off or this username and address are
        throttled (then ``PermissionDenied``: Django stops and sends ``user_login_failed``)."""
        if password is None or (username is None and not kwargs.get("username")):
            return None  # not a password sign-in (single sign-on calls authenticate() too)
        if not getattr(settings, "ROLEGATE_PASSWORD_LOGIN", True):
            signin.mark_refusal(request, "password sign-in is disabled")
            return None
        name = str(username if username is not None else kwargs.get("username"))
        if services.login_is_throttled(username=name, client_ip=current_context().client_ip):
            signin.mark_refusal(request, signin.THROTTLED)
            raise PermissionDenied("too many failed sign-ins")
        return super().authenticate(request, username=username, password=password, **kwargs)


class OidcBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """mozilla-django-oidc's code-flow backend with strict token checks and Rolegate users.

    Construction reads no settings and makes no network call: Django builds every backend for
    each ``authenticate()`` and for each request's ``get_user``, and neither may depend on the
    identity provider being up. Endpoints come from discovery at the first sign-in.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.UserModel = get_user_model()

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        """Settings the library asks for, derived from ``ROLEGATE_OIDC_*`` and discovery."""
        return provider.oidc_setting(attr, *args)

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        """The token endpoint, from discovery."""
        return provider.provider_metadata().token_endpoint

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        """The client id."""
        return str(settings.ROLEGATE_OIDC_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        """The client secret (empty for a public client that relies on PKCE)."""
        return str(settings.ROLEGATE_OIDC_CLIENT_SECRET)

    def authenticate(
        self,
        request: HttpRequest | None,
        *,
        oidc_callback: bool = False,
        nonce: str | None = None,
        code_verifier: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        """Exchange the callback's code and return the user; raises OidcError when refused.

        Only the callback view (which checked the state) passes ``oidc_callback=True``; any
        other ``authenticate()`` call, such as a password sign-in, is ignored here.
        """
        if not oidc_callback or request is None or not provider.oidc_enabled():
            return None
        self.request = request
        code = request.GET.get("code")
        if not code:
            raise provider.OidcError("the identity provider sent no authorization code")
        payload = {
            "client_id": self.OIDC_RP_CLIENT_ID,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": absolutify(request, reverse("oidc:callback")),
        }
        if self.OIDC_RP_CLIENT_SECRET:
            payload["client_secret"] = self.OIDC_RP_CLIENT_SECRET
        if code_verifier is not None:
            payload["code_verifier"] = code_verifier
        try:
            token_info = self.get_token(payload)
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else "?"
            raise provider.OidcError(
                f"the identity provider refused the authorization code (HTTP {status})"
            ) from None
        except (requests.RequestException, ValueError):
            raise provider.OidcUnavailable("the identity provider is unreachable (token)") from None
        if not isinstance(token_info, dict):
            raise provider.OidcUnavailable("the token response is not a JSON object")
        claims = self.verify_token(token_info.get("id_token"), nonce=nonce)
        userinfo = provider.fetch_userinfo(
            token_info.get("access_token"), subject=str(claims["sub"])
        )
        # The ID token is authoritative for who the user is; userinfo only adds claims.
        merged = {**userinfo, **claims}
        return sso_user_sync(issuer=provider.provider_metadata().issuer, claims=merged)

    def verify_token(self, token: object, **kwargs: Any) -> dict[str, Any]:
        """Validate the ID token: RS256 via JWKS, issuer, audience, expiry, nonce."""
        return provider.validate_id_token(token, nonce=kwargs.get("nonce"))

    def get_user(self, user_id: Any) -> User | None:
        """The signed-in user of a session, if still active."""
        user = self.UserModel.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
