"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.core.capabilities import STAFF_CAPABILITIES, has_capability


def _capabilities(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    return {name: has_capability(user, name) for name in STAFF_CAPABILITIES}


def rolegate(request: HttpRequest) -> dict[str, Any]:
    """Product name, environment and the signed-in user's capabilities for the base layout."""
    cluster = settings.ROLEGATE_CLUSTER_NAME
    return {
        "rolegate_cluster_name": cluster,
        # "Rolegate rolegate" says nothing: the cluster name shows only when it is not the default.
        "rolegate_show_cluster": bool(cluster) and cluster.lower() != "rolegate",
        "rolegate_env": settings.ROLEGATE_ENV,
        "rolegate_caps": SimpleLazyObject(lambda: _capabilities(request)),
    }
