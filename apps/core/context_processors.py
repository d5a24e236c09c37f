"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def rolegate(request: HttpRequest) -> dict[str, Any]:
    """Product name and environment for the base layout."""
    return {
        "rolegate_cluster_name": settings.ROLEGATE_CLUSTER_NAME,
        "rolegate_env": settings.ROLEGATE_ENV,
    }
