"""The operator's integration pages: list, detail with health and runs, Sync now."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.integrations.models import Integration, SyncRun

ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0c6f1a3e-8f0a-4d39-9a53-2f7b1b2b4c11"
)


def make_integration(name: str, *, sync_enabled: bool = True) -> Integration:
    return Integration.objects.create(
        name=name,
        sub_kind="aws-ra",
        trust_anchor_arn=ANCHOR,
        partition="aws",
        region="us-east-1",
        account_id="123456789012",
        sync_enabled=sync_enabled,
        sync_profile_arn=ANCHOR.replace("trust-anchor", "profile"),
        sync_role_arn="arn:aws:iam::123456789012:role/RolegateProfileSync",
    )


def add_run(integration: Integration, status: str, *, synced: int = 0, error: str = "") -> None:
    now = timezone.now()
    SyncRun.objects.create(
        integration=integration,
        trigger="schedule",
        status=status,
        started_at=now,
        ended_at=now,
        profiles_synced=synced,
        error_message=error,
    )


@pytest.mark.django_db
def test_personas(client: Any, plain_user: Any, staff_user: Any) -> None:
    make_integration("aws-prod")
    urls = ["/manage/integrations/", "/manage/integrations/aws-prod/"]
    for url in urls:
        assert client.get(url).status_code == 302
    assert client.post("/manage/integrations/aws-prod/sync/").status_code == 302
    client.force_login(plain_user)
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post("/manage/integrations/aws-prod/sync/").status_code == 403
    client.force_login(staff_user)
    for url in urls:
        assert client.get(url).status_code == 200
    assert not AuditEvent.objects.filter(event_type="integration.sync_requested").exists()


@pytest.mark.django_db
def test_list_shows_last_outcome_in_constant_queries(
    staff_client: Any, django_assert_max_num_queries: Any
) -> None:
    for index in range(3):
        integration = make_integration(f"aws-{index}")
        add_run(integration, "SUCCESS", synced=4)
    add_run(Integration.objects.get(name="aws-1"), "ERROR", error="AccessDeniedException: nope")
    staff_client.get("/manage/integrations/")  # warm the session
    # Session, user, the capability check (the user's group permissions), integrations, runs.
    with django_assert_max_num_queries(5):
        page = staff_client.get("/manage/integrations/").content.decode()
    assert "aws-0" in page and "aws-2" in page
    assert "AccessDeniedException: nope" in page
    for index in range(3, 10):
        make_integration(f"aws-{index}")
    with django_assert_max_num_queries(5):
        staff_client.get("/manage/integrations/")


@pytest.mark.django_db
def test_detail_and_sync_now(staff_client: Any) -> None:
    integration = make_integration("aws-prod")
    add_run(integration, "SUCCESS", synced=4)
    page = staff_client.get("/manage/integrations/aws-prod/").content.decode()
    assert "4 synced profiles" in page
    assert ANCHOR in page
    response = staff_client.post("/manage/integrations/aws-prod/sync/", follow=True)
    assert response.redirect_chain[-1][0] == "/manage/integrations/aws-prod/"
    assert "is queued" in response.content.decode()
    assert AuditEvent.objects.filter(
        event_type="integration.sync_requested", target_name="aws-prod", actor_name="operator"
    ).exists()


@pytest.mark.django_db
def test_unknown_and_disabled(staff_client: Any) -> None:
    assert staff_client.get("/manage/integrations/nope/").status_code == 404
    assert staff_client.post("/manage/integrations/nope/sync/").status_code == 404
    make_integration("quiet", sync_enabled=False)
    response = staff_client.post("/manage/integrations/quiet/sync/", follow=True)
    assert "profile sync is disabled" in response.content.decode()
    assert not AuditEvent.objects.filter(event_type="integration.sync_requested").exists()


@pytest.mark.django_db
def test_empty_state_points_to_the_wizard(staff_client: Any) -> None:
    page = staff_client.get("/manage/integrations/").content.decode()
    assert "No AWS account is connected yet" in page
    assert "/manage/integrations/enroll/" in page
