"""The Resources page: the AWS apps the signed-in user may access."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.core.policies import login_required


@login_required
def resources_page(request: HttpRequest) -> HttpResponse:
    """List the user's AWS apps (filled by the resources work)."""
    return TemplateResponse(request, "resources/page.html", {"apps": []})
