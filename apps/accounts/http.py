"""The request classes of views that only a signed-in user reaches.

A view under `login_required` or `capability_required` (apps/core/policies.py) receives a request
whose user is signed in and active; annotating it `AuthenticatedHttpRequest` says so to the type
checker, as healthchecks' `hc.accounts.http.AuthenticatedHttpRequest` does. These are annotations
only: at run time every request is Django's `HttpRequest`.
"""

from __future__ import annotations

from django.http import HttpRequest

from apps.accounts.models import User
from apps.core.identity import HtmxHttpRequest


class AuthenticatedHttpRequest(HttpRequest):
    """A request of a signed-in, active user (its view has a login or capability policy)."""

    user: User


class AuthenticatedHtmxRequest(AuthenticatedHttpRequest, HtmxHttpRequest):
    """A signed-in user's request, with django-htmx's details (``request.htmx``)."""
