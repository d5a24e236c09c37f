"""Access request pages: ask, the user's history, the review queue, one request, staff history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.access.errors import AccessDenied
from apps.access.requests import selectors, services
from apps.access.requests.forms import AccessRequestForm, HistoryFilterForm, ReviewForm
from apps.access.requests.models import AccessRequest
from apps.accounts.http import AuthenticatedHtmxRequest
from apps.accounts.models import User
from apps.core.capabilities import ACCESS_ADMIN, has_capability
from apps.core.identity import HtmxHttpRequest
from apps.core.policies import access_admin_required, login_required

PAGE_SIZE = 50


def _is_htmx(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx)


def _detail_context(
    request: AuthenticatedHtmxRequest, item: AccessRequest, **extra: Any
) -> dict[str, Any]:
    now = timezone.now()
    return {
        "item": item,
        "may_review": item.state == AccessRequest.State.PENDING
        and now < item.review_deadline
        and selectors.can_review(request.user, item),
        "may_end": item.grant_active_at(now)
        and (item.requester_id == request.user.pk or has_capability(request.user, ACCESS_ADMIN)),
        "is_requester": item.requester_id == request.user.pk,
        "review_form": extra.pop("review_form", None) or ReviewForm(),
        "now": now,
        **extra,
    }


@login_required
@require_GET
def request_list(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """The user's own requests (their history) and how many wait for their review."""
    items = list(selectors.requests_of(request.user)[:PAGE_SIZE])
    context = {
        "items": items,
        "requestable": selectors.requestable_role_names(request.user),
        "to_review": len(selectors.reviewable_requests(request.user)),
        "now": timezone.now(),
    }
    return TemplateResponse(request, "access/requests/list.html", context)


def _reason_marks(user: User, requestable: list[str]) -> dict[str, Any]:
    """Which requestable roles need a reason, so the form marks Reason as required."""
    needing = []
    for name in requestable:
        try:
            if selectors.effective_request_policy(user, [name]).reason_required:
                needing.append(name)
        except ValueError:
            continue
    return {
        "reason_required_for": needing,
        "reason_always_required": bool(needing) and len(needing) == len(requestable),
    }


@login_required
@require_http_methods(["GET", "POST"])
def request_create(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Ask for roles: GET shows the form (pre-filled from ?roles=a,b&app=NAME), POST submits it."""
    requestable = selectors.requestable_role_names(request.user)
    app_name = str(request.GET.get("app") or request.POST.get("app") or "")[:255]
    if request.method == "GET":
        wanted = [r for r in str(request.GET.get("roles") or "").split(",") if r in requestable]
        form = AccessRequestForm(initial={"roles": wanted}, requestable=requestable)
        context = {"form": form, "requestable": requestable, "app_name": app_name}
        context.update(_reason_marks(request.user, requestable))
        return TemplateResponse(request, "access/requests/new.html", context)
    form = AccessRequestForm(request.POST, requestable=requestable)
    status = 400
    if form.is_valid():
        try:
            created = services.access_request_create(
                actor=request.user,
                roles=form.cleaned_data["roles"],
                reason=form.cleaned_data["reason"],
                duration=form.cleaned_data["duration"] or None,
            )
        except AccessDenied as exc:
            form.add_error("roles", exc.message)
            status = 403
        except services.RequestInvalid as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Access requested. Reviewers have been notified.")
            url = reverse("requests:detail", args=[created.pk])
            if _is_htmx(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
    context = {"form": form, "requestable": requestable, "app_name": app_name}
    context.update(_reason_marks(request.user, requestable))
    template = "access/requests/new.html#request-form" if _is_htmx(request) else None
    return TemplateResponse(request, template or "access/requests/new.html", context, status=status)


@login_required
@require_GET
def review_queue(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Pending requests the user may review, soonest deadline first."""
    items = selectors.reviewable_requests(request.user)
    context = {"items": items, "now": timezone.now()}
    return TemplateResponse(request, "access/requests/review_queue.html", context)


def _visible_or_404(request: AuthenticatedHtmxRequest, pk: UUID) -> AccessRequest:
    item = selectors.request_for_user(request.user, pk)
    if item is None:
        raise Http404("No such access request.")
    return item


@login_required
@require_GET
def request_detail(request: AuthenticatedHtmxRequest, pk: UUID) -> HttpResponse:
    """One request: roles, reason, reviews, grant window; the review form for its reviewers."""
    item = _visible_or_404(request, pk)
    return TemplateResponse(request, "access/requests/detail.html", _detail_context(request, item))


def _detail_response(
    request: AuthenticatedHtmxRequest, pk: UUID, status: int = 200, **extra: Any
) -> HttpResponse:
    item = selectors.request_for_user(request.user, pk)
    if item is None:
        raise Http404("No such access request.")
    template = "access/requests/detail.html"
    if _is_htmx(request):
        template += "#request-panel"
    return TemplateResponse(
        request, template, _detail_context(request, item, **extra), status=status
    )


@login_required
@require_POST
def request_review(request: AuthenticatedHtmxRequest, pk: UUID) -> HttpResponse:
    """Approve or deny (POST); the requester and non-reviewers get 403 whatever they send."""
    form = ReviewForm(request.POST)
    if not form.is_valid():
        if selectors.request_for_user(request.user, pk) is None:
            raise Http404("No such access request.")
        return _detail_response(request, pk, status=400, review_form=form)
    try:
        services.access_request_review(
            actor=request.user,
            request_id=pk,
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )
    except services.RequestNotFound as exc:
        raise Http404(exc.message) from None
    except AccessDenied as exc:
        if selectors.request_for_user(request.user, pk) is not None:
            return _detail_response(request, pk, status=403, error=exc.message)
        return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    except services.RequestNotPending as exc:
        return _detail_response(request, pk, status=409, error=exc.message)
    if _is_htmx(request):
        response = _detail_response(request, pk)
        response["HX-Trigger"] = "access-request-reviewed"
        return response
    messages.success(request, "Your review was recorded.")
    return redirect("requests:detail", pk=pk)


@login_required
@require_POST
def request_end(request: AuthenticatedHtmxRequest, pk: UUID) -> HttpResponse:
    """End a grant early (its requester, or staff)."""
    try:
        services.access_request_end(
            actor=request.user, request_id=pk, reason=str(request.POST.get("reason") or "")
        )
    except services.RequestNotFound as exc:
        raise Http404(exc.message) from None
    except services.RequestNotPending as exc:
        return _detail_response(request, pk, status=409, error=exc.message)
    if _is_htmx(request):
        return _detail_response(request, pk)
    messages.success(request, "Access ended.")
    return redirect("requests:detail", pk=pk)


@login_required
@require_POST
def request_cancel(request: AuthenticatedHtmxRequest, pk: UUID) -> HttpResponse:
    """Withdraw one's own pending request."""
    try:
        services.access_request_cancel(actor=request.user, request_id=pk)
    except services.RequestNotFound as exc:
        raise Http404(exc.message) from None
    except services.RequestNotPending as exc:
        return _detail_response(request, pk, status=409, error=exc.message)
    if _is_htmx(request):
        return _detail_response(request, pk)
    messages.success(request, "Request withdrawn.")
    return redirect("requests:detail", pk=pk)


@access_admin_required
@require_GET
def request_history(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Every request, for staff: filter by user and state; newest first."""
    form = HistoryFilterForm(request.GET)
    username = state = ""
    if form.is_valid():
        username = form.cleaned_data["user"].strip()
        state = form.cleaned_data["state"]
    page = Paginator(selectors.requests_all(username=username, state=state), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "page": page, "username": username, "state": state}
    return TemplateResponse(request, "access/requests/history.html", context)
