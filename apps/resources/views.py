"""The Resources page, the launch dialog and console launch, and pins."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.access.errors import AccessDenied
from apps.access.requests.selectors import requestable_role_names, requestable_roles_for_app
from apps.accounts.http import AuthenticatedHtmxRequest
from apps.accounts.models import User
from apps.core.errors import DomainError, web_error_response
from apps.core.policies import login_required
from apps.resources import services
from apps.resources.errors import (
    NOT_FOUND_OR_NOT_ALLOWED,
    AppNotFound,
    IssuanceError,
    LaunchInputError,
)
from apps.resources.forms import LaunchForm, ResourceFilterForm, resolve_role
from apps.resources.models import AwsApp
from apps.resources.queries import LabelChip, LaunchTarget, app_listing, launchable_app

PAGE_SIZE = 25


def _query_string(q: str, labels: list[tuple[str, str]], **extra: str) -> str:
    pairs: list[tuple[str, str]] = []
    if q:
        pairs.append(("q", q))
    pairs.extend(("label", f"{key}={value}") for key, value in labels)
    pairs.extend(extra.items())
    return urlencode(pairs)


def _chip_links(
    chips: list[LabelChip], q: str, labels: list[tuple[str, str]]
) -> list[tuple[LabelChip, str]]:
    links = []
    for chip in chips:
        pair = (chip.key, chip.value)
        toggled = [p for p in labels if p != pair] if chip.active else [*labels, pair]
        links.append((chip, _query_string(q, toggled)))
    return links


@login_required
@require_http_methods(["GET", "HEAD"])
def resources_page(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """The AWS apps the user may access: search, label chips, pins first, pagination."""
    return _listing_response(request, request.GET)


def _listing_response(request: AuthenticatedHtmxRequest, data: QueryDict) -> HttpResponse:
    form = ResourceFilterForm(data)
    q, labels = form.query, form.labels
    listing = app_listing(request.user, query=q, labels=labels)
    page = Paginator(listing.rows, PAGE_SIZE).get_page(data.get("page"))
    is_htmx = bool(request.htmx)
    context: dict[str, Any] = {
        "form": form,
        "q": q,
        "labels": labels,
        "listing": listing,
        "page": page,
        "chips": _chip_links(listing.chips, q, labels),
        "query": _query_string(q, labels),
        "oob": is_htmx,
    }
    template = "resources/page.html#app-list" if is_htmx else "resources/page.html"
    return TemplateResponse(request, template, context)


def _launch_response(
    request: AuthenticatedHtmxRequest,
    target: LaunchTarget | None,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    is_htmx = bool(request.htmx)
    template = "resources/launch.html#dialog" if is_htmx else "resources/launch.html"
    context = {"target": target, "in_dialog": is_htmx, **context}
    response = TemplateResponse(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _refused(request: AuthenticatedHtmxRequest, name: str) -> HttpResponse:
    return _launch_response(
        request,
        None,
        {
            "refusal": NOT_FOUND_OR_NOT_ALLOWED.format(name=name[:255]),
            "request_roles": _requestable_roles_for_app_name(request.user, name[:255]),
            "request_app": name[:255],
        },
        # The API's status for the same refusal (AppNotFound): never confirms what exists.
        status=AppNotFound.status,
    )


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def app_launch(request: AuthenticatedHtmxRequest, name: str) -> HttpResponse:
    """GET: the launch dialog (deep links pre-fill it). POST: launch the console."""
    target = launchable_app(request.user, name)
    if request.method == "POST":
        return _launch_post(request, name, target)
    if target is None:
        return _refused(request, name)
    form = LaunchForm(request.GET)
    form.is_valid()
    raw_role = str(form.cleaned_data.get("role") or "")
    role = resolve_role(raw_role, target.roles) if raw_role else ""
    notices: list[str] = []
    if raw_role and role not in {r.arn for r in target.roles}:
        notices.append(f"The link asks for role {raw_role[:200]!r}, which you may not assume here.")
        role = ""
    if not role and len(target.roles) == 1:
        role = target.roles[0].arn
    region = str(form.cleaned_data.get("region") or "") or target.default_region
    destination = str(form.cleaned_data.get("destination") or "")
    try:
        region = services.console_region_for(target.app, region)
    except LaunchInputError as exc:
        notices.append(exc.message)
        region = target.default_region
    if destination:
        try:
            services.console_destination_for(target.app, region, destination)
        except LaunchInputError as exc:
            notices.append(exc.message)
            destination = ""
    regions = target.regions if region in target.regions else (region, *target.regions)
    context = {
        "selected_role": role,
        "selected_region": region,
        "regions": regions,
        "destination": destination,
        "notices": notices,
    }
    return _launch_response(request, target, context)


def _launch_post(
    request: AuthenticatedHtmxRequest, name: str, target: LaunchTarget | None
) -> HttpResponse:
    form = LaunchForm(request.POST)
    if not form.is_valid():
        if target is None:
            return _refused(request, name)
        return _launch_response(
            request, target, _form_context(target, form, errors=form.errors), status=400
        )
    role = form.cleaned_data["role"]
    if target is not None:
        role = resolve_role(role, target.roles)
    try:
        launch = services.console_launch(
            actor=request.user,
            app_name=name,
            role_arn=role,
            region=form.cleaned_data["region"] or None,
            destination=form.cleaned_data["destination"] or None,
            # The decision the view made for the form is the one issuance uses.
            decided=target.decided if target is not None else None,
        )
    except DomainError as exc:
        return _launch_error(request, name, target, form, exc)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = launch.url
    else:
        response = HttpResponseRedirect(launch.url)
    response["Cache-Control"] = "no-store"
    return response


def _launch_error(
    request: AuthenticatedHtmxRequest,
    name: str,
    target: LaunchTarget | None,
    form: LaunchForm,
    error: DomainError,
) -> HttpResponse:
    """Launch's one mapping of the service's errors: the dialog with the error, at the error's
    own status (the API answers the same one), or the refusal for an app the user cannot see."""
    if target is None:
        if isinstance(error, AccessDenied | AppNotFound):
            return _refused(request, name)
        # Rate limits and the like are answered before any app is judged (429 on the API for
        # any name), so saying so here confirms nothing either.
        return web_error_response(request, error)
    hint = error.hint if isinstance(error, IssuanceError) else ""
    is_htmx = bool(getattr(request, "htmx", False))
    response = web_error_response(
        request,
        error,
        template="resources/launch.html#dialog" if is_htmx else "resources/launch.html",
        context={
            "target": target,
            "in_dialog": is_htmx,
            **_form_context(target, form, error=error.message, hint=hint),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _form_context(
    target: LaunchTarget | None,
    form: LaunchForm,
    *,
    error: str = "",
    hint: str = "",
    errors: object = None,
) -> dict[str, Any]:
    data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
    region = str(data.get("region") or form.data.get("region") or "")
    if target is not None:
        region = region or target.default_region
    regions: tuple[str, ...] = target.regions if target is not None else ()
    if region and region not in regions and len(region) <= 32:
        regions = (region, *regions)
    role = str(data.get("role") or form.data.get("role") or "")
    return {
        "selected_role": resolve_role(role, target.roles) if target is not None else role,
        "selected_region": region,
        "regions": regions,
        "destination": str(data.get("destination") or form.data.get("destination") or "")[:2048],
        "error": error,
        "hint": hint,
        "form_errors": errors,
    }


@login_required
@require_POST
def app_pin(request: AuthenticatedHtmxRequest, name: str) -> HttpResponse:
    """Pin (`pinned=1`) or unpin (`pinned=0`) an app on the user's Resources page."""
    pinned = request.POST.get("pinned") == "1"
    try:
        services.app_pin_set(actor=request.user, app_name=name, pinned=pinned)
    except AppNotFound as exc:
        if request.htmx:
            # The pin button swaps the whole app list: a plain-text answer is shown in the
            # page's error banner instead (portal/static/js/app.js) and keeps the list.
            return HttpResponse(
                exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
            )
        return web_error_response(request, exc)
    if getattr(request, "htmx", False):
        # Re-render the list with the filters the page is showing (sent via hx-include).
        return _listing_response(request, request.POST)
    return redirect("resources:home")


def _requestable_roles_for_app_name(user: User, name: str) -> list[str]:
    """The roles the user may request that grant the synced app `name` ([] if there is none).

    This tells a user that a hidden app exists only when a role they may request grants it,
    i.e. only what they would learn by requesting that role.
    """
    if not requestable_role_names(user):
        return []
    app = AwsApp.objects.filter(name=name).first()
    return requestable_roles_for_app(user, app) if app is not None else []
