"""The portal's Users page (access admins): find a user, assign and remove roles, edit internal
traits, and see their effective access through the explainer. Every write goes through
apps.access.user_admin, which validates and audits it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from apps.access import selectors
from apps.access.user_admin import (
    UserChangeInvalid,
    clean_traits,
    set_user_roles,
    set_user_traits,
)
from apps.accounts.http import AuthenticatedHtmxRequest
from apps.accounts.models import User
from apps.audit import events
from apps.audit.models import AuditEvent
from apps.core.hooks import synced_apps
from apps.core.identity import HtmxHttpRequest
from apps.core.policies import access_admin_required

PAGE_SIZE = 50
MAX_QUERY = 150
TRAIT_ROWS_EXTRA = 2


def _is_htmx(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx)


def _user_or_404(username: str) -> User:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise Http404(f"No user named {username!r}.")
    return user


@access_admin_required
@require_GET
def user_list(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Every user, searchable by username, e-mail or role name."""
    query = str(request.GET.get("q") or "").strip()[:MAX_QUERY]
    users = get_user_model().objects.order_by("username")
    if query:
        users = users.filter(
            Q(username__icontains=query) | Q(email__icontains=query) | Q(roles__icontains=query)
        )
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "users": list(page.object_list), "q": query}
    return TemplateResponse(request, "access/users/list.html", context)


def _trait_rows(traits: dict[str, list[str]]) -> list[dict[str, str]]:
    rows = [{"name": name, "values": "\n".join(values)} for name, values in traits.items()]
    rows.extend({"name": "", "values": ""} for _ in range(TRAIT_ROWS_EXTRA))
    return rows


def _context(request: AuthenticatedHtmxRequest, user: User, **extra: Any) -> dict[str, Any]:
    roles = list(selectors.role_list().values_list("name", flat=True))
    assigned = set(user.roles or [])
    context: dict[str, Any] = {
        "target_user": user,
        "all_roles": roles,
        "assigned": assigned,
        "unknown_roles": sorted(assigned - set(roles)),
        "granted_roles": [n for n in selectors.extra_role_names(user) if n not in assigned],
        "trait_rows": _trait_rows(user.traits or {}),
        "accessible": selectors.accessible_apps(user, synced_apps()) if user.is_active else [],
        "is_self": user.pk == request.user.pk and not request.user.is_superuser,
        "history": AuditEvent.objects.filter(
            target_kind="user",
            target_name=user.get_username(),
            event_type__in=(events.USER_UPDATED, events.USER_CREATED, events.USER_SSO_UPDATED),
        ).order_by("-id")[:10],
    }
    context.update(extra)
    return context


@access_admin_required
@require_GET
def user_detail(request: AuthenticatedHtmxRequest, username: str) -> HttpResponse:
    """One user: roles, traits, effective access, recent changes."""
    user = _user_or_404(username)
    return TemplateResponse(request, "access/users/detail.html", _context(request, user))


def _answer(
    request: AuthenticatedHtmxRequest, user: User, partial: str, status: int, **extra: Any
) -> HttpResponse:
    template = "access/users/detail.html"
    if _is_htmx(request):
        template += f"#{partial}"
    return TemplateResponse(request, template, _context(request, user, **extra), status=status)


@access_admin_required
@require_POST
def user_roles(request: AuthenticatedHtmxRequest, username: str) -> HttpResponse:
    """Replace the user's roles with the checked ones (the picker)."""
    user = _user_or_404(username)
    wanted = request.POST.getlist("roles")
    try:
        set_user_roles(request.user, user, wanted)
    except UserChangeInvalid as error:
        return _answer(request, user, "roles-panel", 400, roles_error=error.message)
    except PermissionDenied as error:
        return _answer(request, user, "roles-panel", 403, roles_error=str(error))
    user.refresh_from_db()
    message = f"Roles of {user.get_username()} saved."
    if not _is_htmx(request):
        messages.success(request, message)
        return redirect("access:user_detail", username=user.get_username())
    return _answer(request, user, "roles-panel", 200, roles_saved=message, refresh_access=True)


def _posted_traits(request: AuthenticatedHtmxRequest) -> dict[str, list[str]]:
    names = request.POST.getlist("trait_name")
    values = request.POST.getlist("trait_values")
    if len(names) != len(values):
        raise UserChangeInvalid("Every trait row needs a name and values.", field="traits")
    traits: dict[str, list[str]] = {}
    for name, raw in zip(names, values, strict=True):
        name = name.strip()
        items = [v.strip() for v in raw.replace(",", "\n").splitlines() if v.strip()]
        if not name and not items:
            continue
        if not name:
            raise UserChangeInvalid("A trait row has values but no name.", field="traits")
        if name in traits:
            raise UserChangeInvalid(f"Trait {name!r} is listed twice.", field=f"traits.{name}")
        traits[name] = items
    return clean_traits(traits)


@access_admin_required
@require_POST
def user_traits(request: AuthenticatedHtmxRequest, username: str) -> HttpResponse:
    """Replace the user's internal traits (name → values, one value per line)."""
    user = _user_or_404(username)
    try:
        set_user_traits(request.user, user, _posted_traits(request))
    except UserChangeInvalid as error:
        rows = [
            {"name": n, "values": v}
            for n, v in zip(
                request.POST.getlist("trait_name"),
                request.POST.getlist("trait_values"),
                strict=False,
            )
        ]
        return _answer(
            request, user, "traits-panel", 400, traits_error=error.message, trait_rows=rows
        )
    except PermissionDenied as error:
        return _answer(request, user, "traits-panel", 403, traits_error=str(error))
    user.refresh_from_db()
    message = f"Traits of {user.get_username()} saved."
    if not _is_htmx(request):
        messages.success(request, message)
        return redirect("access:user_detail", username=user.get_username())
    return _answer(request, user, "traits-panel", 200, traits_saved=message)
