"""Faults injected in the sandbox (throttling, 5xx, timeouts, truncated pages): no app is
deleted, the run is ERROR with a readable message, and the next clean run recovers."""

from __future__ import annotations

from typing import Any

import pytest

from apps.integrations.models import SyncRun
from apps.integrations.services import integration_sync
from apps.resources.models import AwsApp
from tests.integrations.conftest import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(account: Account, create_integration: Any) -> Account:
    """Five apps synced; then one profile is deleted in AWS (a clean run would remove it)."""
    for index in range(5):
        account.add_profile(f"App-{index}", tags={"n": str(index)})
    create_integration(account.integration_yaml())
    assert integration_sync(name="aws-prod").status == "SUCCESS"
    account.delete("App-4")
    return account


def names() -> list[str]:
    return sorted(AwsApp.objects.values_list("name", flat=True))


ALL_FIVE = [f"app-{index}-aws-prod" for index in range(5)]


def assert_recovers(account: Account) -> None:
    account.sandbox.faults.clear()
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "SUCCESS", outcome.error_message
    assert names() == ALL_FIVE[:4]


def test_listprofiles_5xx_deletes_nothing(synced: Account) -> None:
    synced.sandbox.faults.fail("ListProfiles", status=503, count=10)
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert outcome.transient
    assert "listing the Roles Anywhere profiles failed" in outcome.error_message
    assert "ServiceUnavailableException" in outcome.error_message
    assert "nothing was removed or changed" in outcome.error_message
    assert names() == ALL_FIVE
    assert_recovers(synced)


def test_one_transient_5xx_is_retried_by_the_client(synced: Account) -> None:
    synced.sandbox.faults.fail("ListProfiles", status=500, count=1)
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "SUCCESS", outcome.error_message
    assert names() == ALL_FIVE[:4]


def test_throttling_deletes_nothing(synced: Account) -> None:
    # Far below what a sync needs: every retry of the second call is throttled too.
    synced.sandbox.faults.throttle("tags", 0.01)
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert outcome.transient
    assert "ThrottlingException" in outcome.error_message
    assert names() == ALL_FIVE
    assert_recovers(synced)


def test_timeouts_delete_nothing(synced: Account) -> None:
    synced.sandbox.faults.timeout("ListProfiles", count=5, seconds=4)
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert outcome.transient
    assert "no answer in time" in outcome.error_message
    assert names() == ALL_FIVE
    assert_recovers(synced)


def test_truncated_pages_are_followed_to_the_end(synced: Account) -> None:
    synced.sandbox.faults.truncate_pages("ListProfiles", page_size=1)
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "SUCCESS", outcome.error_message
    # Four app profiles and the sync profile, one per page.
    assert outcome.profiles_seen == 5
    assert names() == ALL_FIVE[:4]


def test_failure_on_a_later_page_deletes_nothing(synced: Account) -> None:
    synced.sandbox.faults.truncate_pages("ListProfiles", page_size=2)
    calls = {"n": 0}
    faults = synced.sandbox.faults
    original = faults.check

    def fail_from_second_page(operation: Any) -> Any:
        # Pages 2 and later fail with 500: the listing is partial.
        if operation.name == "ListProfiles":
            calls["n"] += 1
            if calls["n"] >= 2:
                faults.fail("ListProfiles", status=500, count=1)
        return original(operation)

    faults.check = fail_from_second_page  # type: ignore[method-assign]
    try:
        outcome = integration_sync(name="aws-prod")
    finally:
        del faults.check
    assert outcome.status == "ERROR"
    assert names() == ALL_FIVE
    run = SyncRun.objects.latest("started_at")
    assert run.listing_complete is False and run.apps_deleted == 0
    assert_recovers(synced)


def test_consecutive_tag_failures_abort_without_writes(synced: Account) -> None:
    synced.sandbox.faults.fail("ListTagsForResource", status=500, count=100)
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert "consecutive ListTagsForResource failures" in outcome.error_message
    assert names() == ALL_FIVE
    assert_recovers(synced)


def test_one_profile_tag_failure_keeps_its_app_and_reports_it(
    synced: Account, settings: Any
) -> None:
    # Two attempts per call: the first tag call fails twice, the rest succeed. The fault count
    # goes to whichever calls reach the sandbox first, so the reads run one at a time here.
    settings.ROLEGATE_PROFILE_SYNC_TAG_WORKERS = 1
    synced.sandbox.faults.fail("ListTagsForResource", status=500, count=2)
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert outcome.profile_errors == 1
    assert "reading its tags failed" in outcome.error_message
    # A 5xx is worth retrying soon: the task's retry (not the next beat) reads the tags again.
    assert outcome.transient
    # The listing was complete: the deleted profile's app goes, the failing one stays.
    assert names() == ALL_FIVE[:4]
    flagged = AwsApp.objects.exclude(sync_error="")
    assert flagged.count() == 1
    assert_recovers(synced)
    assert not AwsApp.objects.exclude(sync_error="").exists()


def test_access_denied_is_a_clear_error(account: Account, create_integration: Any) -> None:
    account.iam.put_role_policy(
        RoleName="RolegateProfileSync",
        PolicyName="RolegateRolesAnywhereProfileSync",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": "iam:GetRole", "Resource": "*"}]}',
    )
    account.add_profile("One")
    create_integration(account.integration_yaml())
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert not outcome.transient
    assert "AccessDenied" in outcome.error_message
    assert "rolesanywhere:ListProfiles" in outcome.error_message


def test_unreachable_endpoint_is_a_clear_error(
    account: Account, create_integration: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_integration(account.integration_yaml())
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert outcome.transient
    assert outcome.error_message.startswith("failed to sign in as Rolegate: ConnectionError")


def test_only_transient_tag_failures_ask_for_a_retry() -> None:
    from apps.integrations.services.listing import ListedProfile, Listing

    def profile(name: str, *, error: str = "", transient: bool = False) -> ListedProfile:
        return ListedProfile(
            arn=f"arn:aws:rolesanywhere:eu-west-1:123456789012:profile/{name}",
            name=name,
            role_arns=[],
            duration_seconds=3600,
            accept_role_session_name=False,
            partition="aws",
            region="eu-west-1",
            account_id="123456789012",
            error=error,
            transient=transient,
        )

    assert not Listing(profiles=[profile("a"), profile("b")], complete=True).retry_soon
    denied = profile("b", error="reading its tags failed: AccessDenied")
    assert not Listing(profiles=[profile("a"), denied], complete=True).retry_soon
    throttled = profile("c", error="reading its tags failed: ThrottlingException", transient=True)
    assert Listing(profiles=[profile("a"), denied, throttled], complete=True).retry_soon
