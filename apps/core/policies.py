"""Access policy decorators: every view carries exactly one.

A test walks the URLconf and fails on a view without a policy, so forgetting one is caught in CI
rather than in production.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from apps.core.capabilities import (
    ACCESS_ADMIN,
    AUDIT_READ,
    INTEGRATION_ADMIN,
    STAFF_CAPABILITIES,
    has_capability,
)
from apps.core.identity import AnyUser

POLICY_ATTRIBUTE = "rolegate_access_policy"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def _mark(view: Callable[..., Any], policy: str) -> None:
    if hasattr(view, POLICY_ATTRIBUTE):
        raise TypeError(
            f"{view.__qualname__} already has access policy {getattr(view, POLICY_ATTRIBUTE)}"
        )
    setattr(view, POLICY_ATTRIBUTE, policy)


def anonymous_allowed(view: View) -> View:
    """Mark a view as deliberately reachable without logging in."""
    _mark(view, "anonymous")
    return view


def _login_redirect(request: HttpRequest) -> HttpResponse:
    if getattr(request, "htmx", False):
        response = HttpResponse(status=401)
        response["HX-Redirect"] = redirect_to_login(request.get_full_path()).url
        return response
    return redirect_to_login(request.get_full_path())


def login_required(view: View) -> View:
    """Require an authenticated, active user."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated or not request.user.is_active:
            return _login_redirect(request)
        return view(request, *args, **kwargs)

    _mark(wrapper, "login")
    return cast(View, wrapper)


def capability_required(capability: str) -> Callable[[View], View]:
    """Require a logged-in user holding ``capability`` (apps/core/capabilities.py).

    ``staff`` (any operator: the admin area's index), ``audit_read``, ``access_admin``,
    ``integration_admin`` (each a Django permission, held through a group) and ``superuser``.
    """
    if capability not in ("staff", "superuser", *STAFF_CAPABILITIES):
        raise ValueError(f"unknown capability {capability!r}")

    def check(user: AnyUser) -> bool:
        return has_capability(user, capability)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated or not request.user.is_active:
                return _login_redirect(request)
            if not check(request.user):
                raise PermissionDenied(f"This page needs the {capability} capability.")
            return view(request, *args, **kwargs)

        _mark(wrapper, f"capability:{capability}")
        return cast(View, wrapper)

    return decorator


staff_required = capability_required("staff")
audit_read_required = capability_required(AUDIT_READ)
access_admin_required = capability_required(ACCESS_ADMIN)
integration_admin_required = capability_required(INTEGRATION_ADMIN)


def policy_of(view: Callable[..., Any]) -> str | None:
    """Return the access policy attached to a view, following wrapper chains."""
    seen = 0
    current: Any = view
    while current is not None and seen < 10:
        policy = getattr(current, POLICY_ATTRIBUTE, None)
        if policy:
            return str(policy)
        current = getattr(current, "__wrapped__", None)
        seen += 1
    return None
