"""Browser pages for the CLI: approve a device login, list and revoke one's own tokens."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import services as account_services
from apps.accounts import signin
from apps.accounts.http import AuthenticatedHttpRequest
from apps.api import automation, selectors, services
from apps.api.forms import AutomationTokenForm, DeviceDecisionForm
from apps.core.context import current_context
from apps.core.policies import login_required, staff_required


def _code_refused(
    request: AuthenticatedHttpRequest, form: DeviceDecisionForm, message: str
) -> HttpResponse:
    """A code that names no pending login: counted and audited like a wrong password."""
    signin.sign_in_refused(
        request=request,
        username=request.user.get_username(),
        reason="no pending CLI login has this code",
        method="cli-device-approval",
    )
    form.add_error("code", message)
    return TemplateResponse(request, "api/approve.html", {"form": form}, status=404)


def _throttled(request: AuthenticatedHttpRequest) -> HttpResponse | None:
    """Guessing codes is throttled with the same counter as wrong passwords."""
    username = request.user.get_username()
    if not account_services.login_is_throttled(
        username=username, client_ip=current_context().client_ip
    ):
        return None
    form = DeviceDecisionForm(request.POST if request.method == "POST" else request.GET)
    form.is_valid()
    form.add_error(None, "Too many wrong codes. Wait 15 minutes and try again.")
    response = TemplateResponse(request, "api/approve.html", {"form": form}, status=429)
    response["Retry-After"] = str(account_services.LOGIN_FAILURE_WINDOW)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def device_approve(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Show a pending CLI login (from ?code=) and approve or deny it with a POST."""
    if (request.method == "POST" or "code" in request.GET) and (
        refused := _throttled(request)
    ) is not None:
        return refused
    if request.method == "GET":
        if "code" not in request.GET:
            return TemplateResponse(request, "api/approve.html", {"form": DeviceDecisionForm()})
        form = DeviceDecisionForm(request.GET)
        if not form.is_valid():
            return TemplateResponse(request, "api/approve.html", {"form": form}, status=400)
        pending = selectors.device_authorization_pending(form.cleaned_data["code"])
        if pending is None:
            return _code_refused(
                request, form, "No pending CLI login has this code; it may have expired."
            )
        return TemplateResponse(request, "api/approve.html", {"form": form, "pending": pending})
    form = DeviceDecisionForm(request.POST)
    if not form.is_valid() or form.cleaned_data["decision"] not in ("approve", "deny"):
        if form.is_valid():
            form.add_error("decision", "Choose Approve or Deny.")
        return TemplateResponse(request, "api/approve.html", {"form": form}, status=400)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        decided = services.device_authorization_decide(
            actor=request.user, user_code=form.cleaned_data["code"], approve=approve
        )
    except services.DeviceCodeNotFound as error:
        return _code_refused(request, form, str(error))
    return TemplateResponse(request, "api/approve_done.html", {"decided": decided})


@login_required
@require_http_methods(["GET"])
def token_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The signed-in user's CLI tokens, with a revoke button on the active ones."""
    tokens = selectors.tokens_for_user(request.user)[:100]
    return TemplateResponse(request, "api/tokens.html", {"tokens": tokens})


@login_required
@require_POST
def token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of the signed-in user's own tokens."""
    token = selectors.tokens_for_user(request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    if services.token_revoke(actor=request.user, token=token):
        messages.success(request, f"Token {token.prefix} revoked.")
    else:
        messages.info(request, f"Token {token.prefix} was already revoked.")
    return redirect("cli:tokens")


def _automation_tokens_page(
    request: AuthenticatedHttpRequest,
    form: AutomationTokenForm,
    *,
    created: str = "",
    status: int = 200,
) -> HttpResponse:
    tokens = selectors.automation_tokens()
    if not request.user.is_superuser:
        tokens = tokens.filter(owner_id=request.user.pk)
    context = {"form": form, "tokens": tokens[:200], "created": created}
    response = TemplateResponse(request, "api/automation_tokens.html", context, status=status)
    # The page may show a new token's secret: never kept by a browser or a proxy cache.
    add_never_cache_headers(response)
    return response


@staff_required
@require_http_methods(["GET", "POST"])
def automation_token_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Automation tokens the admin owns (every one for a superuser); POST creates one."""
    if request.method == "GET":
        return _automation_tokens_page(request, AutomationTokenForm())
    form = AutomationTokenForm(request.POST)
    if not form.is_valid():
        return _automation_tokens_page(request, form, status=400)
    try:
        issued = automation.automation_token_create(
            actor=request.user,
            name=form.cleaned_data["name"],
            owner=request.user,
            scopes=list(form.cleaned_data["scopes"]),
            lifetime=timedelta(days=form.cleaned_data["days"]),
        )
    except automation.TokenInvalid as error:
        form.add_error(None, error.message)
        return _automation_tokens_page(request, form, status=400)
    # Shown once, on this response only: never stored in clear, never put in a redirect.
    return _automation_tokens_page(request, AutomationTokenForm(), created=issued.plaintext)


@staff_required
@require_POST
def automation_token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    """Revoke an automation token the admin owns (any, for a superuser)."""
    tokens = selectors.automation_tokens()
    if not request.user.is_superuser:
        tokens = tokens.filter(owner_id=request.user.pk)
    token = tokens.filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    if automation.automation_token_revoke(actor=request.user, token=token):
        messages.success(request, f"Automation token {token.name} revoked.")
    else:
        messages.info(request, f"Automation token {token.name} was already revoked.")
    return redirect("cli:automation-tokens")
