"""The JSON API under /api/v1 (mounted at /api/ by portal/urls.py).

No `app_name` here: the ninja API brings its own namespace (see apps.api.api.URLS_NAMESPACE).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from apps.api.api import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/", api.urls),
]
