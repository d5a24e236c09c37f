"""API test helpers: a bearer-token client and the guide scenario from tests/resources."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.resources.conftest import LaunchScenario, launch_scenario  # noqa: F401 - fixture

__all__ = ["LaunchScenario"]


class ApiClient:
    """Django's test client speaking JSON with an optional bearer token."""

    def __init__(self, token: str = "") -> None:
        self.client = Client()
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str) -> Any:
        """GET /api/v1{path}."""
        return self.client.get(f"/api/v1{path}", headers=self._headers())

    def post(self, path: str, body: Any = None, *, raw: str | None = None) -> Any:
        """POST JSON (or `raw` text) to /api/v1{path}."""
        import json

        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            f"/api/v1{path}", data=data, content_type="application/json", headers=self._headers()
        )


@pytest.fixture
def api() -> ApiClient:
    """An anonymous API client."""
    return ApiClient()


@pytest.fixture
def token_for() -> Any:
    """token_for(user) → an API client holding a fresh password-method token of that user."""
    from apps.api.services import token_create

    def make(user: Any) -> ApiClient:
        issued = token_create(actor=user, user=user, method="password", client_name="test")
        return ApiClient(issued.plaintext)

    return make
