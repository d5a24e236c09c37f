"""Nobody writes a role they hold, not even by creating it: an access admin whose user record
already names a role that does not exist yet (assigned in advance, or mapped from SSO) may not
create that role with rules of their choosing, on the web or through the admin API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.access.models import Role
from tests.api.test_admin_api import EVERY_CAPABILITY, SPEC, token

pytestmark = pytest.mark.django_db

ARN = "arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"


@pytest.fixture
def holder(make_user: Any) -> Any:
    return make_user("hold", is_staff=True, groups=EVERY_CAPABILITY, roles=["future"])


def test_the_editor_refuses_to_create_a_role_its_user_holds(holder: Any) -> None:
    client = Client()
    client.force_login(holder)
    form = {"mode": "form", "name": "future", "allow_labels": "env: dev", "allow_arns": ARN}
    response = client.post("/manage/roles/-/new/", form)
    assert response.status_code == 400
    assert "You hold the role" in response.content.decode()
    assert not Role.objects.filter(name="future").exists()
    # Another name is fine for the same admin.
    assert client.post("/manage/roles/-/new/", {**form, "name": "other"}).status_code == 302


def test_the_admin_api_refuses_to_create_a_role_its_caller_holds(holder: Any) -> None:
    refused = token(holder, ["roles:write"]).post("/roles", {"name": "future", "spec": SPEC})
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_held"
    assert not Role.objects.filter(name="future").exists()
