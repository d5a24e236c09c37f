"""The one throttle and the one audit of every sign-in path, enforced where all of them pass.

- Password checks go through ``PasswordBackend`` (web form, Django admin, the API's password
  login, anything else that calls ``authenticate()``): the backend refuses a throttled
  username and address before checking the password.
- Every refused ``authenticate()`` sends Django's ``user_login_failed``; every completed sign-in
  sends ``user_logged_in`` (``login()`` does for sessions; ``sign_in_completed`` does for the
  token paths, which open no session). The receivers below count and audit both, so a caller
  cannot forget either. Single sign-on and device approval report their refusals through
  ``sign_in_refused``, which sends the same signal.

``tests/security/test_sign_in_paths.py`` finds every call site that signs someone in and fails
when one is not in its table of paths that are shown to be throttled and audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from apps.accounts import services
from apps.accounts.models import User

# Attributes the backend or a view leaves on the request for the receivers and the caller.
METHOD_ATTRIBUTE = "rolegate_login_method"
REFUSAL_ATTRIBUTE = "rolegate_login_refusal"
THROTTLED = "throttled"
OIDC_BACKEND = "apps.accounts.oidc.backend.OidcBackend"


def set_method(request: HttpRequest | None, method: str) -> None:
    """Name the sign-in method for the audit row (``cli-password``, ``admin``, ...)."""
    if request is not None:
        setattr(request, METHOD_ATTRIBUTE, method)


def refusal_of(request: HttpRequest | None) -> str:
    """Why the last ``authenticate()`` on this request was refused before the password check."""
    return str(getattr(request, REFUSAL_ATTRIBUTE, "") or "")


def was_throttled(request: HttpRequest | None) -> bool:
    """True when the backend refused this request's sign-in because of the throttle."""
    return refusal_of(request) == THROTTLED


def mark_refusal(request: HttpRequest | None, reason: str) -> None:
    """Remember why the backend refused (read by the failure receiver and by the view)."""
    if request is not None:
        setattr(request, REFUSAL_ATTRIBUTE, reason)


def _method(request: HttpRequest | None, user: User | None, kwargs: dict[str, Any]) -> str:
    explicit = kwargs.get("rolegate_method") or getattr(request, METHOD_ATTRIBUTE, None)
    if explicit:
        return str(explicit)
    if user is not None and getattr(user, "backend", "") == OIDC_BACKEND:
        return "oidc"
    match = getattr(request, "resolver_match", None)
    if match is not None and "admin" in (match.namespaces or []):
        return "admin"
    return "password"


def sign_in_completed(*, user: User, method: str) -> None:
    """Report a sign-in that opens no session (a CLI token) through ``user_logged_in``."""
    user_logged_in.send(sender=type(user), request=None, user=user, rolegate_method=method)


def sign_in_refused(
    *, request: HttpRequest | None, username: str, reason: str, method: str
) -> None:
    """Report a refused sign-in that did not come from ``authenticate()``."""
    user_login_failed.send(
        sender=__name__,
        credentials={"username": username},
        request=request,
        rolegate_method=method,
        rolegate_reason=reason,
    )


@receiver(user_logged_in, dispatch_uid="rolegate-audit-sign-in")
def _audit_sign_in(sender: object, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    services.login_record_success(user=user, method=_method(request, user, kwargs))


@receiver(user_login_failed, dispatch_uid="rolegate-audit-refused-sign-in")
def _audit_refused_sign_in(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if "oidc_callback" in credentials:
        # The single sign-on callback reports its own refusal, with the provider's reason.
        return
    username = str(credentials.get("username") or "")
    reason = kwargs.get("rolegate_reason") or refusal_of(request) or "bad credentials"
    services.login_record_failure(
        username=username, reason=str(reason), method=_method(request, None, kwargs)
    )
