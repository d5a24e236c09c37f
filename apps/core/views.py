"""Operator landing page and health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from apps.core.policies import anonymous_allowed, staff_required


@staff_required
def manage_index(request: HttpRequest) -> HttpResponse:
    """The admin area: links to every operator tool."""
    return TemplateResponse(request, "core/manage.html", {})


@anonymous_allowed
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability for load balancers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})
