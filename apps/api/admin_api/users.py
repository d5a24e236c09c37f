"""The admin API on users: their roles and internal traits (never the identity provider's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Query, Schema, Status
from pydantic import Field

from apps.accounts.models import User
from apps.api.admin_api.shared import (
    AdminErrorOut,
    AdminRouter,
    PageIn,
    ValidationErrorOut,
    caller,
    page_of,
)
from apps.api.http import Answer, JsonObject
from apps.api.scoped_auth import scoped
from apps.core.identity import Actor

router = AdminRouter()


class UserOut(Schema):
    """A user's access: assigned roles, internal traits, and the identity provider's traits."""

    username: str
    email: str
    is_active: bool
    is_staff: bool
    roles: list[str]
    traits: dict[str, list[str]]
    external_traits: dict[str, Any]


class UserPage(Schema):
    """A page of users, by username."""

    items: list[UserOut]
    next_cursor: str | None


class UserRolesIn(Schema):
    """The user's roles, replacing the current ones."""

    roles: list[str] = Field(max_length=200)


class UserTraitsIn(Schema):
    """The user's internal traits, replacing the current ones (external ones are the IdP's)."""

    traits: dict[str, list[str]]


def _user_out(user: User) -> JsonObject:
    return {
        "username": user.username,
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "roles": sorted(user.roles or []),
        "traits": dict(user.traits or {}),
        "external_traits": dict(user.external_traits or {}),
    }


def _user(username: str) -> User | None:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=username).first()


def _no_user(username: str) -> Answer:
    return Status(404, {"detail": f"user {username!r} not found", "code": "not_found"})


@router.get(
    "/users",
    auth=scoped("users:read"),
    response={200: UserPage, 400: AdminErrorOut},
    tags=["users"],
    summary="List users with their roles and traits (q: username, e-mail or role)",
)
def users_list(request: HttpRequest, page: Query[PageIn]) -> JsonObject:
    """Every user, by username."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    search = (
        Q(username__icontains=page.q) | Q(email__icontains=page.q) | Q(roles__contains=[page.q])
        if page.q
        else None
    )
    return page_of(get_user_model().objects.all(), page, _user_out, key="username", search=search)


@router.get(
    "/users/{username}",
    auth=scoped("users:read"),
    response={200: UserOut, 404: AdminErrorOut},
    tags=["users"],
    summary="One user's roles and traits",
)
def users_get(request: HttpRequest, username: str) -> Answer:
    """One user."""
    user = _user(username)
    if user is None:
        return _no_user(username)
    return Status(200, _user_out(user))


def _user_change(
    request: HttpRequest, username: str, change: Callable[[Actor, User], User]
) -> Answer:
    """Apply `change` (a `user_admin` setter) as the caller to the user, mapping its refusals."""
    from django.core.exceptions import PermissionDenied

    from apps.access import user_admin

    user = _user(username)
    if user is None:
        return _no_user(username)
    try:
        changed = change(caller(request), user)
    except PermissionDenied as error:
        return Status(403, {"detail": str(error), "code": "forbidden"})
    except user_admin.UserChangeInvalid as error:
        errors = [{"field": error.field, "message": error.message}] if error.field else []
        return Status(400, {"detail": error.message, "code": "invalid", "errors": errors})
    return Status(200, _user_out(changed))


@router.put(
    "/users/{username}/roles",
    auth=scoped("users:write"),
    response={200: UserOut, 400: ValidationErrorOut, 403: AdminErrorOut, 404: AdminErrorOut},
    tags=["users"],
    summary="Replace a user's roles (audited with a before/after diff)",
)
def users_set_roles(request: HttpRequest, username: str, payload: UserRolesIn) -> Answer:
    """Replace the roles; unchanged input writes nothing; never your own (unless superuser)."""
    from apps.access.user_admin import set_user_roles

    return _user_change(
        request,
        username,
        lambda actor, user: set_user_roles(actor, user, payload.roles, via="api"),
    )


@router.put(
    "/users/{username}/traits",
    auth=scoped("users:write"),
    response={200: UserOut, 400: ValidationErrorOut, 403: AdminErrorOut, 404: AdminErrorOut},
    tags=["users"],
    summary="Replace a user's internal traits (audited with a before/after diff)",
)
def users_set_traits(request: HttpRequest, username: str, payload: UserTraitsIn) -> Answer:
    """Replace the internal traits; the identity provider's traits are never edited."""
    from apps.access.user_admin import set_user_traits

    return _user_change(
        request,
        username,
        lambda actor, user: set_user_traits(actor, user, payload.traits, via="api"),
    )
