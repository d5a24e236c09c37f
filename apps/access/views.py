"""The role editor and the access explainer (staff only)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods, require_POST

from apps.access import selectors, services
from apps.access.forms import STARTER_DOCUMENT, RoleForm, initial_for
from apps.access.models import Role
from apps.accounts.http import AuthenticatedHttpRequest
from apps.core.hooks import synced_apps
from apps.core.policies import access_admin_required

PREVIEW_LIMIT = 50


def _role_or_404(name: str) -> Role:
    role = selectors.role_get(name)
    if role is None:
        raise Http404(f"No role named {name!r}.")
    return role


def _editable_role(request: AuthenticatedHttpRequest, name: str) -> Role:
    """The role, unless the editor holds it: nobody widens their own access (superusers may)."""
    role = _role_or_404(name)
    if request.method == "POST" and not selectors.role_editable_by(request.user, role.name):
        raise PermissionDenied(
            f"You hold the role {role.name!r}, so you may not change it; ask another access admin."
        )
    return role


def _preview(form: RoleForm) -> dict[str, Any] | None:
    if form.parsed is None:
        return None
    preview = selectors.role_preview(form.parsed, synced_apps())
    preview["granted_shown"] = preview["granted"][:PREVIEW_LIMIT]
    return preview


@access_admin_required
def role_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every role with its rule counts."""
    roles = list(selectors.role_list())
    return TemplateResponse(request, "access/role_list.html", {"roles": roles})


@access_admin_required
@require_http_methods(["GET", "POST"])
def role_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Create a role from the form or from a YAML document."""
    if request.method == "GET":
        # The YAML tab of a new role opens on a commented starter document, not an empty box.
        form = RoleForm(
            initial={"mode": request.GET.get("mode", "form"), "document": STARTER_DOCUMENT}
        )
        return TemplateResponse(request, "access/role_form.html", {"form": form, "role": None})
    form = RoleForm(request.POST)
    if form.is_valid() and not selectors.role_editable_by(request.user, form.cleaned_data["name"]):
        # A role name the creator already holds (e.g. mapped from SSO before the role existed):
        # creating it would let them write their own access.
        form.add_error(
            "name",
            f"You hold the role {form.cleaned_data['name']!r}, so you may not create it; "
            "ask another access admin.",
        )
    if form.is_valid():
        try:
            role = services.role_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                spec=form.cleaned_data["spec"],
                version=form.version,
            )
        except services.RoleExists as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Role {role.name} created.")
            return redirect("access:role_edit", name=role.name)
    context = {"form": form, "role": None, "preview": _preview(form)}
    return TemplateResponse(request, "access/role_form.html", context, status=400)


@access_admin_required
@require_http_methods(["GET", "POST"])
def role_edit(request: AuthenticatedHttpRequest, name: str) -> HttpResponse:
    """Edit a role; refuses to overwrite a newer revision saved by someone else."""
    role = _editable_role(request, name)
    if request.method == "GET":
        initial = initial_for(role)
        initial["mode"] = request.GET.get("mode", "form")
        form = RoleForm(initial=initial, role=role)
        form.parsed = None
        context = {"form": form, "role": role, "preview": _stored_preview(role)}
        return TemplateResponse(request, "access/role_form.html", context)
    form = RoleForm(request.POST, role=role)
    if form.is_valid():
        try:
            services.role_update(
                actor=request.user,
                name=role.name,
                spec=form.cleaned_data["spec"],
                version=form.version,
                expected_revision=form.cleaned_data.get("revision"),
            )
        except services.RoleConflict as exc:
            form.add_error(None, str(exc))
        except services.RoleNotFound as exc:
            raise Http404(str(exc)) from None
        else:
            messages.success(request, f"Role {role.name} saved.")
            return redirect("access:role_edit", name=role.name)
    context = {"form": form, "role": role, "preview": _preview(form)}
    return TemplateResponse(request, "access/role_form.html", context, status=400)


def _stored_preview(role: Role) -> dict[str, Any] | None:
    form = RoleForm(initial_for(role), role=role)
    return _preview(form) if form.is_valid() else None


@access_admin_required
@require_POST
def role_validate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """htmx: validate the editor's input without saving; inline errors and the preview."""
    name = request.POST.get("role", "")
    role = selectors.role_get(name) if name else None
    form = RoleForm(request.POST, role=role)
    form.is_valid()
    context = {"form": form, "role": role, "preview": _preview(form), "oob": True}
    return TemplateResponse(request, "access/role_form.html#feedback", context)


@access_admin_required
@require_http_methods(["GET", "POST"])
def role_delete(request: AuthenticatedHttpRequest, name: str) -> HttpResponse:
    """Confirm (GET) and delete (POST) a role that no user holds."""
    role = _editable_role(request, name)
    error = ""
    if request.method == "POST":
        try:
            services.role_delete(actor=request.user, name=role.name)
        except services.RoleInUse as exc:
            error = str(exc)
        except services.RoleNotFound as exc:
            raise Http404(str(exc)) from None
        else:
            messages.success(request, f"Role {name} deleted.")
            return redirect("access:role_list")
    status = 409 if error else 200
    context = {"role": role, "error": error}
    return TemplateResponse(request, "access/role_confirm_delete.html", context, status=status)


@access_admin_required
def explain_access(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Why can (or can't) a user use an app, or assume one IAM role on it."""
    username = request.GET.get("user", "").strip()
    app_name = request.GET.get("app", "").strip()
    role_arn = request.GET.get("role_arn", "").strip() or None
    context: dict[str, Any] = {"username": username, "app_name": app_name, "role_arn": role_arn}
    errors: list[str] = []
    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            errors.append(f"No user named {username!r}.")
    apps = synced_apps()
    context["app_names"] = [a.name for a in apps]
    app = next((a for a in apps if a.name == app_name), None) if app_name else None
    if app_name and app is None:
        errors.append(f"No synced app named {app_name!r}.")
    if user is not None:
        context["target_user"] = user
        context["role_names"] = selectors.user_role_names(user)
        context["accessible"] = selectors.accessible_apps(user, apps) if user.is_active else []
        if app is not None:
            context["explanation"] = selectors.explain(user, app, role_arn)
    context["errors"] = errors
    status = 404 if errors else 200
    return TemplateResponse(request, "access/explain.html", context, status=status)
