"""Integration status pages for operators: the list, one integration's health, Sync now."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from apps.accounts.http import AuthenticatedHttpRequest
from apps.core.policies import integration_admin_required
from apps.core.registry import ResourceNotFound
from apps.integrations import selectors, services
from apps.integrations.errors import SyncDisabled
from apps.resources.models import AwsApp


@integration_admin_required
def integration_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every integration with its last sync outcome and app count."""
    return TemplateResponse(
        request, "integrations/list.html", {"integrations": selectors.integrations_overview()}
    )


@integration_admin_required
def integration_detail(request: AuthenticatedHttpRequest, name: str) -> HttpResponse:
    """One integration: configuration, health, recent runs and its apps."""
    integration = selectors.integration_by_name(name)
    if integration is None:
        raise Http404(f"No integration named {name!r}.")
    context = {
        "integration": integration,
        "health": selectors.integration_health(integration),
        "last_sync": selectors.last_profile_sync(selectors.last_finished_run(integration)),
        "runs": selectors.recent_runs(integration),
        "apps": AwsApp.objects.filter(integration=integration).order_by("name")[:200],
        "revocation": selectors.last_session_revocation(integration),
        "revoked": selectors.revoked_sessions(integration),
    }
    return TemplateResponse(request, "integrations/detail.html", context)


@integration_admin_required
@require_POST
def integration_sync_now(request: AuthenticatedHttpRequest, name: str) -> HttpResponse:
    """Queue a sync now (audited by the service)."""
    try:
        queued = services.integration_sync_request(actor=request.user, name=name, trigger="admin")
    except ResourceNotFound as error:
        raise Http404(str(error)) from None
    except SyncDisabled as error:
        messages.error(request, error.message)
    else:
        if queued == services.SyncQueued.NOT_QUEUED:
            messages.error(
                request,
                f"The sync of {name} could not be queued: the task queue (the broker) did not "
                "answer in time. Nothing was queued; the scheduled sync will run it, or try "
                "again in a moment.",
            )
        else:
            messages.success(request, f"A sync of {name} is queued; refresh in a moment.")
    return redirect("integrations:detail", name=name)
