"""A deactivated owner's automation tokens stop at once, whatever their scopes (review scopes
included), and CLI tokens refused on an admin endpoint are audited too."""

from __future__ import annotations

from typing import Any

import pytest

from apps.audit import events
from apps.audit.models import AuditEvent
from tests.api.test_admin_api import EVERY_CAPABILITY, token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("scope", "path"), [("requests:review", "/requests/queue"), ("roles:read", "/roles")]
)
def test_a_deactivated_owner_stops_every_token(make_user: Any, scope: str, path: str) -> None:
    owner = make_user("ops", is_staff=True, groups=EVERY_CAPABILITY)
    caller = token(owner, [scope])
    assert caller.get(path).status_code == 200
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)

    refused = caller.get(path)

    # A token of an inactive owner is no token at all (the lookup skips it).
    assert refused.status_code == 401, refused.content
    assert refused.json()["code"] == "not_authenticated"
    used = AuditEvent.objects.filter(event_type=events.AUTOMATION_TOKEN_USED)
    assert list(used.values_list("outcome", flat=True)) == ["success"]


def test_a_cli_token_refused_on_an_admin_endpoint_is_audited(
    make_user: Any, token_for: Any
) -> None:
    person = make_user("bob", is_staff=True, groups=["auditor"])  # not an access admin
    refused = token_for(person).get("/roles")
    assert refused.status_code == 403
    assert refused.json()["code"] == "capability_missing"
    event = AuditEvent.objects.get(event_type=events.API_TOKEN_REFUSED)
    assert event.outcome == "denied"
    assert event.actor_name == "bob"
    assert event.target_name.startswith("bob/")
    assert event.details["scope"] == "roles:read" and event.details["path"] == "/api/v1/roles"
