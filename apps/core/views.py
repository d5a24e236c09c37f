"""Operator landing page (the probes are in apps/core/probes.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.core.policies import staff_required


@staff_required
def manage_index(request: HttpRequest) -> HttpResponse:
    """The admin area: links to every operator tool."""
    return TemplateResponse(request, "core/manage.html", {})
