"""Damaged ListProfiles answers never delete apps.

The sandbox damages real HTTP answers (a 200 whose body is cut in half, a proxy's HTML page, JSON
without `profiles`, an empty listing, a page without its `nextToken`); botocore parses them as it
would AWS's, and each run must end ERROR, say that nothing was removed, and leave every app.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.integrations.models import SyncRun
from apps.integrations.services import integration_sync
from apps.resources.models import AwsApp
from tests.integrations.conftest import Account

pytestmark = pytest.mark.django_db

APPS = 6


@pytest.fixture
def synced(account: Account, create_integration: Any) -> Account:
    """Six apps synced from six profiles (plus the sync profile) in three pages of three."""
    for index in range(APPS):
        account.add_profile(f"App-{index}", tags={"n": str(index)})
    create_integration(account.integration_yaml())
    assert integration_sync(name="aws-prod").status == "SUCCESS"
    assert AwsApp.objects.count() == APPS
    account.sandbox.faults.truncate_pages("ListProfiles", page_size=3)
    return account


def assert_nothing_removed(outcome: Any, *words: str) -> None:
    assert outcome.status == "ERROR", outcome
    assert outcome.apps_deleted == 0
    assert "nothing was removed" in outcome.error_message, outcome.error_message
    for word in words:
        assert word in outcome.error_message, outcome.error_message
    assert AwsApp.objects.count() == APPS
    run = SyncRun.objects.get(pk=outcome.run_id)
    assert run.status == SyncRun.Status.ERROR and run.apps_deleted == 0


@pytest.mark.parametrize("mode", ["cut", "html", "missing_key"])
def test_an_unparseable_first_page_deletes_nothing(synced: Account, mode: str) -> None:
    synced.sandbox.faults.damage("ListProfiles", mode, count=10)
    outcome = integration_sync(name="aws-prod")
    assert_nothing_removed(outcome, "listing the Roles Anywhere profiles failed")


@pytest.mark.parametrize("mode", ["cut", "html", "missing_key"])
def test_an_unparseable_middle_page_deletes_nothing(synced: Account, mode: str) -> None:
    # The first page is fine; the second is damaged.
    synced.sandbox.faults.damage("ListProfiles", mode, count=10, skip=1)
    outcome = integration_sync(name="aws-prod")
    assert_nothing_removed(outcome)


def test_an_empty_listing_deletes_nothing(synced: Account) -> None:
    synced.sandbox.faults.damage("ListProfiles", "empty", count=10)
    outcome = integration_sync(name="aws-prod")
    # The listing lacks Rolegate's own sync profile, which must exist.
    assert_nothing_removed(outcome, "sync profile")


def test_a_dropped_next_token_deletes_nothing(synced: Account) -> None:
    """Page 1 holds the sync profile (created first), so the proof comes from asking AWS
    about a profile the listing left out: it still exists, so the listing is incomplete."""
    synced.sandbox.faults.damage("ListProfiles", "drop_next_token", count=10)
    outcome = integration_sync(name="aws-prod")
    assert_nothing_removed(outcome, "incomplete", "still exists in AWS")


def test_a_repeated_next_token_deletes_nothing(synced: Account) -> None:
    synced.sandbox.faults.damage("ListProfiles", "repeat_next_token", count=10, skip=1)
    outcome = integration_sync(name="aws-prod")
    assert_nothing_removed(outcome, "loops")


def test_mass_removal_is_refused_then_confirmed(synced: Account, settings: Any) -> None:
    """Real deletions of most profiles stop at the guard until an operator confirms them."""
    synced.sandbox.faults.clear()
    for index in range(4):
        synced.delete(f"App-{index}")
    outcome = integration_sync(name="aws-prod")
    assert_nothing_removed(outcome, "4 of the 6 apps", "--allow-mass-delete")

    settings.ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE = 0.7
    assert integration_sync(name="aws-prod").apps_deleted == 4
    assert AwsApp.objects.count() == 2


def test_removing_every_app_always_needs_the_flag(synced: Account, settings: Any) -> None:
    synced.sandbox.faults.clear()
    settings.ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE = 1.0
    for index in range(APPS):
        synced.delete(f"App-{index}")
    with pytest.raises(CommandError):
        call_command("sync_profiles", "aws-prod", "--quiet")
    assert AwsApp.objects.count() == APPS
    assert "nothing was removed" in SyncRun.objects.first().error_message  # type: ignore[union-attr]

    call_command("sync_profiles", "aws-prod", "--quiet", "--allow-mass-delete")
    assert AwsApp.objects.count() == 0
    assert SyncRun.objects.first().status == SyncRun.Status.SUCCESS  # type: ignore[union-attr]


def test_a_few_real_deletions_still_go_through(synced: Account) -> None:
    synced.sandbox.faults.clear()
    synced.delete("App-5")
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "SUCCESS", outcome.error_message
    assert outcome.apps_deleted == 1
    assert AwsApp.objects.count() == APPS - 1
