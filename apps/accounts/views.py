"""Server-rendered sign-in and sign-out."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import services, signin
from apps.accounts.forms import LoginForm
from apps.accounts.http import AuthenticatedHttpRequest
from apps.core.policies import anonymous_allowed, login_required
from apps.core.redirects import safe_next_url


@anonymous_allowed
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Sign in with a local username and password."""
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url)
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and not getattr(settings, "ROLEGATE_PASSWORD_LOGIN", True):
        form.add_error(None, "Password sign-in is disabled; use single sign-on.")
        status = 403
    elif request.method == "POST" and form.is_valid():
        # The backend throttles and the sign-in receivers audit (apps/accounts/signin.py).
        username = form.cleaned_data["username"]
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
        if user is None and signin.was_throttled(request):
            form.add_error(None, "Too many failed sign-ins. Wait 15 minutes and try again.")
            status = 429
        elif user is None:
            form.add_error(None, "Wrong username or password.")
            status = 401
        else:
            login(request, user)
            return redirect(next_url)
    elif request.method == "POST":
        status = 400
    context = {
        "form": form,
        "next": next_url,
        "password_login": getattr(settings, "ROLEGATE_PASSWORD_LOGIN", True),
        "sso_enabled": bool(getattr(settings, "ROLEGATE_OIDC_ENABLED", False)),
    }
    response = TemplateResponse(request, "accounts/login.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(services.LOGIN_FAILURE_WINDOW)
    return response


@login_required
@require_POST
def logout_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Sign out (POST only, so a link on another site cannot sign people out)."""
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)
