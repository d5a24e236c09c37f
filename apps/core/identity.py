"""Who acts, and the request classes views receive.

An `Actor` is whoever a service acts for: a user (signed in, or anonymous for a refused
request), a named part of Rolegate itself (`SystemActor`: the profile sync, the CRL push), or
``None`` (the system, named by the caller's ``actor_name`` in the audit log). The kernel imports
no app, so a user here is Django's `AbstractUser`; the apps above accounts type users as
`apps.accounts.models.User` (and their requests as `apps.accounts.http.AuthenticatedHttpRequest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


@dataclass(frozen=True)
class SystemActor:
    """A named, non-human actor: audited under its name, never a user (no pk, not signed in)."""

    name: str
    pk: ClassVar[None] = None
    is_authenticated: ClassVar[bool] = False

    def get_username(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


# What `request.user` is: the signed-in user or Django's anonymous user.
AnyUser: TypeAlias = AbstractUser | AnonymousUser
Actor: TypeAlias = AbstractUser | AnonymousUser | SystemActor | None


class HtmxHttpRequest(HttpRequest):
    """A request that passed django-htmx's middleware (every request does; see settings)."""

    htmx: HtmxDetails
