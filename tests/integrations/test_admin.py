"""The integration admin: pages render, edits are validated and audited, "Sync now" queues."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.integrations.models import Integration, SyncRun
from tests.conftest import without_audit_seals

pytestmark = pytest.mark.django_db

ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0b7e1a4e-55f7-4a3c-9b0e-4d1f1c2b3a4d"
)
PROFILE = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:profile/1c8f2b5f-66a8-4b4d-8c1f-5e2a2d3c4b5e"
)
ROLE = "arn:aws:iam::123456789012:role/RolegateProfileSync"


@pytest.fixture
def admin_client_(client: Any, make_user: Any) -> Any:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "aws-prod",
        "trust_anchor_arn": ANCHOR,
        "sync_enabled": "on",
        "sync_profile_arn": PROFILE,
        "sync_role_arn": ROLE,
        "filters_text": "MyTeam-*\n^Ops-.*$\n",
        "sync_runs-TOTAL_FORMS": "0",
        "sync_runs-INITIAL_FORMS": "0",
        "sync_runs-MIN_NUM_FORMS": "0",
        "sync_runs-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_add_validates_audits_and_queues_a_sync(
    admin_client_: Any, django_capture_on_commit_callbacks: Any
) -> None:
    url = reverse("admin:integrations_integration_add")
    response = admin_client_.post(url, form_data(filters_text="^[invalid-regex{$"))
    assert response.status_code == 200
    assert "&#x27;^[invalid-regex{$&#x27;" in response.content.decode()
    assert not Integration.objects.exists()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client_.post(url, form_data())
    assert response.status_code == 302
    integration = Integration.objects.get()
    assert integration.profile_name_filters == ["MyTeam-*", "^Ops-.*$"]
    assert integration.region == "us-east-1"
    assert AuditEvent.objects.get(event_type="integration.created").actor_name == "root"
    assert len(without_audit_seals(callbacks)) == 1  # the sync is queued after commit


def test_changelist_change_page_and_history_render(admin_client_: Any) -> None:
    integration = Integration.objects.create(
        name="aws-prod",
        trust_anchor_arn=ANCHOR,
        partition="aws",
        region="us-east-1",
        account_id="123456789012",
        sync_enabled=True,
        sync_profile_arn=PROFILE,
        sync_role_arn=ROLE,
    )
    now = timezone.now()
    SyncRun.objects.create(
        integration=integration,
        status="ERROR",
        started_at=now,
        ended_at=now,
        error_message="listing the Roles Anywhere profiles failed: ThrottlingException",
    )
    changelist = admin_client_.get(reverse("admin:integrations_integration_changelist"))
    assert changelist.status_code == 200
    assert "ERROR" in changelist.content.decode()
    change = admin_client_.get(
        reverse("admin:integrations_integration_change", args=[integration.pk])
    )
    assert change.status_code == 200
    assert "ThrottlingException" in change.content.decode()
    runs = admin_client_.get(reverse("admin:integrations_syncrun_changelist"))
    assert runs.status_code == 200
    apps = admin_client_.get(reverse("admin:resources_awsapp_changelist"))
    assert apps.status_code == 200


def test_sync_now_action_queues_after_commit_and_audits(
    admin_client_: Any, django_capture_on_commit_callbacks: Any
) -> None:
    integration = Integration.objects.create(
        name="aws-prod",
        trust_anchor_arn=ANCHOR,
        partition="aws",
        region="us-east-1",
        account_id="123456789012",
        sync_enabled=True,
        sync_profile_arn=PROFILE,
        sync_role_arn=ROLE,
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client_.post(
            reverse("admin:integrations_integration_changelist"),
            {"action": "sync_now", "_selected_action": [integration.pk]},
        )
    assert response.status_code == 302
    assert len(without_audit_seals(callbacks)) == 1
    assert AuditEvent.objects.filter(event_type="integration.sync_requested").count() == 1
