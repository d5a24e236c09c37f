"""The profile sync against the sandbox over HTTP: the guide's scenario, filters, tags, names,
deletion safety, efficiency and the CRL upload."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.core.hooks import synced_apps
from apps.integrations.models import Integration, SyncRun
from apps.integrations.services import integration_sync
from apps.resources.models import AwsApp
from apps.resources.selectors import app_last_confirmed_at
from tests.integrations.conftest import Account

pytestmark = pytest.mark.django_db


def app_names() -> list[str]:
    return sorted(AwsApp.objects.values_list("name", flat=True))


def get_integration(name: str = "aws-prod") -> dict[str, Any]:
    out = io.StringIO()
    call_command("get", f"integration/{name}", stdout=out)
    document: dict[str, Any] = yaml.safe_load(out.getvalue())
    return document


def test_guide_scenario_yaml_sync_get_and_apps(account: Account, create_integration: Any) -> None:
    account.add_profile("ExampleReadOnlyAccess", tags={"env": "prod", "team": "platform"})
    account.add_profile("Billing_Admins")
    create_integration(account.integration_yaml())

    outcome = integration_sync(name="aws-prod")

    assert outcome.status == "SUCCESS", outcome.error_message
    document = get_integration()
    last = document["status"]["aws_ra"]["last_profile_sync"]
    # The sync profile itself is not an app: 2 profiles besides it.
    assert last["status"] == "SUCCESS"
    assert last["synced_profiles"] == 2
    assert last["error_message"] == ""
    assert last["start_time"].endswith("Z") and last["end_time"] >= last["start_time"]
    assert document["spec"]["aws_ra"]["profile_sync_config"]["profile_arn"] == (
        account.sync_profile_arn
    )
    assert app_names() == ["billing-admins-aws-prod", "examplereadonlyaccess-aws-prod"]

    app = AwsApp.objects.get(name="examplereadonlyaccess-aws-prod")
    arn = account.profiles["ExampleReadOnlyAccess"]
    assert app.labels == {
        "aws/env": "prod",
        "aws/team": "platform",
        "aws_account_id": app.account_id,
        "rolegate.dev/account-id": app.account_id,
        "rolegate.dev/integration": "aws-prod",
        "rolegate.dev/aws-roles-anywhere-profile-arn": arn,
    }
    assert app.profile_arn == arn
    assert app.profile_name == "ExampleReadOnlyAccess"
    assert app.role_arns == [account.app_role_arn]
    assert (app.region, app.partition) == ("us-east-1", "aws")
    assert app.console_url == "https://console.aws.amazon.com/"
    assert app.duration_seconds == 3600
    # The access engine reads the same facts.
    facts = {fact.name: fact for fact in synced_apps()}
    assert facts[app.name].role_arns == frozenset({account.app_role_arn})
    assert facts[app.name].labels["aws/env"] == "prod"


def test_sync_profiles_command_prints_summary(account: Account, create_integration: Any) -> None:
    account.add_profile("One")
    create_integration(account.integration_yaml())
    out = io.StringIO()
    call_command("sync_profiles", "aws-prod", "--quiet", stdout=out)
    assert "aws-prod: SUCCESS - 1 synced, 1 created" in out.getvalue()
    assert SyncRun.objects.get().trigger == "command"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["Team-*"], ["team-a-aws-prod", "team-b-aws-prod"]),
        (["^Team-[A]$"], ["team-a-aws-prod"]),
        (["^Team-A$", "Other*"], ["otherthing-aws-prod", "team-a-aws-prod"]),
        (["team-*"], []),  # case-sensitive
        ([], ["otherthing-aws-prod", "team-a-aws-prod", "team-b-aws-prod"]),
    ],
)
def test_profile_name_filters(
    account: Account, create_integration: Any, filters: list[str], expected: list[str]
) -> None:
    for name in ("Team-A", "Team-B", "OtherThing"):
        account.add_profile(name)
    create_integration(account.integration_yaml(filters=filters))
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "SUCCESS"
    assert app_names() == expected
    # The sync profile plus every filtered-out profile is counted as skipped.
    assert outcome.profiles_skipped == 1 + 3 - len(expected)


def test_filtered_profiles_cost_no_tag_calls(account: Account, create_integration: Any) -> None:
    for index in range(5):
        account.add_profile(f"Skip-{index}")
    account.add_profile("Keep")
    create_integration(account.integration_yaml(filters=["Keep"]))
    outcome = integration_sync(name="aws-prod")
    # One ListProfiles page and one ListTagsForResource (CRL calls come on top: import only).
    assert outcome.aws_calls == 1 + 1 + 2


def test_tag_renames_app_and_rename_follows_tag_changes(
    account: Account, create_integration: Any
) -> None:
    account.add_profile("ProdOps", tags={"RolegateApplicationName": "Production_Ops"})
    account.add_profile("Legacy", tags={"TeleportApplicationName": "old.system_"})
    create_integration(account.integration_yaml())
    integration_sync(name="aws-prod")
    assert app_names() == ["old.system-aws-prod", "production-ops-aws-prod"]
    app = AwsApp.objects.get(name="production-ops-aws-prod")
    assert app.labels["aws/RolegateApplicationName"] == "Production_Ops"

    account.tag("ProdOps", {"RolegateApplicationName": "ops"})
    outcome = integration_sync(name="aws-prod")
    assert outcome.apps_updated == 1 and outcome.apps_created == 0
    assert app_names() == ["old.system-aws-prod", "ops-aws-prod"]
    assert AwsApp.objects.get(name="ops-aws-prod").pk == app.pk


def test_name_swap_between_two_profiles(account: Account, create_integration: Any) -> None:
    account.add_profile("A", tags={"RolegateApplicationName": "first"})
    account.add_profile("B", tags={"RolegateApplicationName": "second"})
    create_integration(account.integration_yaml())
    integration_sync(name="aws-prod")
    account.tag("A", {"RolegateApplicationName": "second"})
    account.tag("B", {"RolegateApplicationName": "first"})
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "SUCCESS", outcome.error_message
    assert AwsApp.objects.get(name="second-aws-prod").profile_name == "A"
    assert AwsApp.objects.get(name="first-aws-prod").profile_name == "B"


def test_sanitizer_collision_is_an_error_naming_both_and_first_stays(
    account: Account, create_integration: Any
) -> None:
    first = account.add_profile("prod_ops")
    second = account.add_profile("prod-ops")
    account.add_profile("fine")
    create_integration(account.integration_yaml())

    outcome = integration_sync(name="aws-prod")

    assert outcome.status == "ERROR"
    assert app_names() == ["fine-aws-prod", "prod-ops-aws-prod"]
    assert AwsApp.objects.get(name="prod-ops-aws-prod").profile_arn == first
    assert "'prod-ops'" in outcome.error_message and second in outcome.error_message
    assert "'prod_ops'" in outcome.error_message and first in outcome.error_message
    last = get_integration()["status"]["aws_ra"]["last_profile_sync"]
    assert last["status"] == "ERROR" and last["synced_profiles"] == 2

    # The owner keeps its name on later runs, whatever the listing order.
    outcome = integration_sync(name="aws-prod")
    assert AwsApp.objects.get(name="prod-ops-aws-prod").profile_arn == first
    assert outcome.apps_updated == 0


def test_unusable_profile_name_is_a_per_profile_error(
    account: Account, create_integration: Any
) -> None:
    account.add_profile("___")
    account.add_profile("good")
    create_integration(account.integration_yaml())
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert "'___'" in outcome.error_message
    assert app_names() == ["good-aws-prod"]


def test_app_name_taken_by_another_integration(account: Account, create_integration: Any) -> None:
    account.add_profile("a-b")
    account.add_profile("a")
    create_integration(account.integration_yaml("b", filters=["a-b"]))
    create_integration(account.integration_yaml("b-b", filters=["a"]))
    assert integration_sync(name="b").status == "SUCCESS"
    assert app_names() == ["a-b-b"]
    outcome = integration_sync(name="b-b")
    assert outcome.status == "ERROR"
    assert "already used by an app of integration 'b'" in outcome.error_message
    assert AwsApp.objects.get(name="a-b-b").integration.name == "b"


def test_disabled_and_deleted_profiles_removed_after_successful_run(
    account: Account, create_integration: Any
) -> None:
    for name in ("Keep", "Disable", "Delete", "Filter"):
        account.add_profile(name)
    create_integration(account.integration_yaml())
    integration_sync(name="aws-prod")
    assert len(app_names()) == 4

    account.disable("Disable")
    account.delete("Delete")
    create_integration(account.integration_yaml(filters=["Keep", "Disable", "Delete"]), force=True)
    # Three of four apps is past the mass-delete guard (50%): an operator confirms it.
    assert integration_sync(name="aws-prod").apps_deleted == 0
    outcome = integration_sync(name="aws-prod", allow_mass_delete=True)

    assert outcome.status == "SUCCESS"
    assert outcome.apps_deleted == 3
    assert app_names() == ["keep-aws-prod"]
    event = AuditEvent.objects.filter(event_type="integration.profiles_synced").first()
    assert event is not None
    assert sorted(event.details["deleted"]) == [
        "delete-aws-prod",
        "disable-aws-prod",
        "filter-aws-prod",
    ]


def _app_writes(queries: list[dict[str, Any]]) -> list[str]:
    table = AwsApp._meta.db_table
    return [
        q["sql"]
        for q in queries
        if table in q["sql"]
        and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_resync_without_change_writes_no_app_rows(
    account: Account, create_integration: Any
) -> None:
    for index in range(4):
        account.add_profile(f"P{index}", tags={"k": str(index)})
    create_integration(account.integration_yaml())
    integration_sync(name="aws-prod")
    before = {a.pk: a.updated_at for a in AwsApp.objects.all()}

    with CaptureQueriesContext(connection) as captured:
        outcome = integration_sync(name="aws-prod")

    assert outcome.status == "SUCCESS"
    assert (outcome.apps_created, outcome.apps_updated, outcome.apps_deleted) == (0, 0, 0)
    assert _app_writes(captured.captured_queries) == []
    assert {a.pk: a.updated_at for a in AwsApp.objects.all()} == before
    integration = Integration.objects.get()
    app = AwsApp.objects.select_related("integration").first()
    assert app is not None
    assert app_last_confirmed_at(app) == integration.last_complete_listing_at


def _queries_for_sync(account: Account, create_integration: Any, count: int, name: str) -> int:
    for index in range(count):
        account.add_profile(f"{name}-{index}", tags={"n": str(index)})
    create_integration(account.integration_yaml(name, filters=[f"{name}-*"]))
    with CaptureQueriesContext(connection) as first:
        outcome = integration_sync(name=name)
    assert outcome.status == "SUCCESS", outcome.error_message
    assert outcome.apps_created == count
    # The authority caches its CA after the first leaf; its queries are not the sync's.
    return len([q for q in first.captured_queries if '"authority_' not in q["sql"]])


def test_query_count_does_not_grow_with_profiles(account: Account, create_integration: Any) -> None:
    few = _queries_for_sync(account, create_integration, 2, "small")
    many = _queries_for_sync(account, create_integration, 60, "large")
    assert many == few


def test_role_session_name_only_when_sync_profile_accepts_it(
    account: Account, create_integration: Any
) -> None:
    account.add_profile("One")
    # The sync profile does not accept a role session name: sending one would be refused.
    create_integration(account.integration_yaml(accepts_session_name=True))
    outcome = integration_sync(name="aws-prod")
    assert outcome.status == "ERROR"
    assert outcome.error_message.startswith("failed to sign in as Rolegate")
    assert app_names() == []


def test_crl_is_imported_once_then_updated_when_it_changes(
    account: Account, create_integration: Any
) -> None:
    from apps.authority import services as authority
    from apps.authority.selectors import crl_pem

    create_integration(account.integration_yaml())
    assert integration_sync(name="aws-prod").status == "SUCCESS"
    run = SyncRun.objects.filter(status="SUCCESS").latest("started_at")
    assert run.crl_outcome == "imported"
    crls = account.ra.list_crls()["crls"]
    assert len(crls) == 1 and crls[0]["enabled"] is True
    assert crls[0]["trustAnchorArn"] == account.anchor_arn

    integration_sync(name="aws-prod")
    assert SyncRun.objects.latest("started_at").crl_outcome == "unchanged"

    leaf = authority.certificate_issue(subject_cn="mallory", purpose="test", actor=None)
    authority.certificate_revoke(serial=leaf.serial, reason="keyCompromise", actor=None)
    pem, version = crl_pem()
    integration_sync(name="aws-prod")
    assert SyncRun.objects.latest("started_at").crl_outcome == "updated"
    crls = account.ra.list_crls()["crls"]
    assert len(crls) == 1
    stored = account.ra.get_crl(crlId=crls[0]["crlId"])["crl"]["crlData"]
    assert stored.decode() == pem
    assert Integration.objects.get().crl_uploaded_version == version


def test_crl_upload_reuses_a_crl_imported_by_a_lost_run(
    account: Account, create_integration: Any
) -> None:
    create_integration(account.integration_yaml())
    integration_sync(name="aws-prod")
    # Forget that it was imported, as if the run died before recording it.
    Integration.objects.update(crl_arn="", crl_uploaded_version=None)
    integration_sync(name="aws-prod")
    assert SyncRun.objects.latest("started_at").crl_outcome == "updated"
    assert len(account.ra.list_crls()["crls"]) == 1
