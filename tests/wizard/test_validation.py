"""Every step's server-side checks, Back, resume, ordering, and AWS failures in plain words."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.integrations.enrollment import wizard
from apps.integrations.enrollment.policies import target_role_trust_policy
from apps.integrations.models import Integration
from apps.integrations.services import integration_apply
from apps.integrations.spec import make_integration_spec
from tests.conftest import without_audit_seals
from tests.wizard.conftest import WIZARD, Account

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/11111111-1111-1111-1111-111111111111"
)
PROFILE = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:profile/22222222-2222-2222-2222-222222222222"
)
ROLE = "arn:aws:iam::123456789012:role/RolegateProfileSync"


def name_step(client: Any, name: str = "aws-prod", **advanced: str) -> Any:
    return client.post(f"{WIZARD}name/", {"action": "next", "name": name, **advanced})


def to_connect(client: Any, name: str = "aws-prod") -> None:
    assert name_step(client, name).status_code == 302
    assert client.post(f"{WIZARD}setup/", {"action": "next"}).status_code == 302


def to_profiles(client: Any, account: Account) -> None:
    to_connect(client)
    response = client.post(
        f"{WIZARD}connect/",
        {
            "action": "next",
            "trust_anchor_arn": account.anchor_arn,
            "profile_arn": account.sync_profile_arn,
            "role_arn": account.sync_role_arn,
        },
    )
    assert response.status_code == 302, response.content.decode()


def existing_integration(name: str) -> None:
    spec = make_integration_spec(name=name, trust_anchor_arn=ANCHOR)
    integration_apply(actor=None, spec=spec, request_sync=False)


# -- name ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a name for the integration."),
        ("Bad Name", "must be 1-63 lowercase letters"),
        ("-leading", "must be 1-63 lowercase letters"),
        ("a" * 64, "at most 63 characters"),
        ("taken", "An integration named &#x27;taken&#x27; already exists"),
    ],
)
def test_name_is_validated(staff_client: Any, name: str, message: str) -> None:
    existing_integration("taken")
    response = name_step(staff_client, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    # The live check says the same, without storing anything.
    check = staff_client.post(f"{WIZARD}name/check/", {"name": name}, **HTMX)
    assert check.status_code == 200 and message in check.content.decode()
    assert staff_client.get(f"{WIZARD}setup/")["Location"] == f"{WIZARD}name/"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trust_anchor", "has space"),
        ("trust_anchor", "semi;colon"),
        ("sync_role", "r" * 65),
        ("sync_role", "quote'role"),
        ("sync_profile", "slash/profile"),
    ],
)
def test_advanced_names_are_validated(staff_client: Any, field: str, value: str) -> None:
    response = name_step(staff_client, **{field: value})
    assert response.status_code == 400
    text = response.content.decode()
    assert f'data-field="{field}"' in text
    assert re.search(r"<details\b[^>]*\bopen\b", text), "the advanced names stay open"


def test_advanced_names_reach_the_script(staff_client: Any) -> None:
    response = name_step(
        staff_client, trust_anchor="CustomAnchor", sync_role="CustomRole", sync_profile="CustomP"
    )
    assert response.status_code == 302
    script = staff_client.get(f"{WIZARD}setup/rolegate-enroll.sh").content.decode()
    assert "TRUST_ANCHOR_NAME=CustomAnchor" in script
    assert "SYNC_ROLE_NAME=CustomRole" in script and "SYNC_PROFILE_NAME=CustomP" in script


def test_unknown_action_is_refused(staff_client: Any) -> None:
    assert staff_client.post(f"{WIZARD}name/", {"action": "explode"}).status_code == 400
    to_connect(staff_client)
    assert staff_client.post(f"{WIZARD}connect/", {"action": "explode"}).status_code == 400


# -- order, resume, back ------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["setup", "connect", "profiles"])
def test_steps_out_of_order(staff_client: Any, step: str) -> None:
    response = staff_client.get(f"{WIZARD}{step}/")
    assert response.status_code == 302 and response["Location"] == f"{WIZARD}name/"
    refused = staff_client.post(f"{WIZARD}{step}/", {"action": "next"})
    assert refused.status_code == 409
    assert "Complete the “Name” step first." in refused.content.decode()


def test_downloads_need_a_name(staff_client: Any) -> None:
    for path in ("setup/rolegate-enroll.sh", "setup/rolegate-enroll.yaml"):
        response = staff_client.get(f"{WIZARD}{path}")
        assert response.status_code == 409
        assert "Choose the integration name first" in response.content.decode()


def test_preview_needs_a_tested_connection(staff_client: Any) -> None:
    to_connect(staff_client)
    response = staff_client.post(f"{WIZARD}profiles/preview/", {"mode": "all"}, **HTMX)
    assert response.status_code == 409
    assert "Complete the “Connect” step first." in response.content.decode()


def test_unfinished_wizard_resumes_and_back_keeps_values(staff_client: Any) -> None:
    assert name_step(staff_client, "aws-resume", sync_role="MyRole").status_code == 302
    # Resume: the entry point continues where the draft stopped.
    assert staff_client.get(WIZARD)["Location"] == f"{WIZARD}setup/"
    assert staff_client.post(f"{WIZARD}setup/", {"action": "next"}).status_code == 302
    assert staff_client.get(WIZARD)["Location"] == f"{WIZARD}connect/"
    # Back from Connect keeps what was typed, even when it is not valid yet.
    response = staff_client.post(
        f"{WIZARD}connect/", {"action": "back", "trust_anchor_arn": "arn:half-typed"}
    )
    assert response["Location"] == f"{WIZARD}setup/"
    assert staff_client.post(f"{WIZARD}setup/", {"action": "back"})["Location"] == (
        f"{WIZARD}name/"
    )
    name_page = staff_client.get(f"{WIZARD}name/").content.decode()
    assert 'value="aws-resume"' in name_page and 'value="MyRole"' in name_page
    connect_page = staff_client.get(f"{WIZARD}connect/").content.decode()
    assert 'value="arn:half-typed"' in connect_page
    # Nothing was created in the database.
    assert Integration.objects.count() == 0
    # Start over forgets the draft.
    assert staff_client.post(f"{WIZARD}reset/")["Location"] == f"{WIZARD}name/"
    assert 'value="aws-resume"' not in staff_client.get(f"{WIZARD}name/").content.decode()


def test_a_changed_name_invalidates_the_later_steps(staff_client: Any) -> None:
    to_connect(staff_client)
    assert name_step(staff_client, "aws-other").status_code == 302
    assert staff_client.get(f"{WIZARD}connect/")["Location"] == f"{WIZARD}setup/"


@pytest.mark.parametrize(
    "draft",
    [
        {"name": ["not", "a", "string"], "name_done": True},
        {"name": "aws-x", "name_done": True, "setup_done": True, "tested_arns": "x"},
        {"name": "aws-x", "name_done": "yes"},
        {"name": "aws-x", "probe": "garbage"},
        "not a dict",
    ],
)
def test_a_corrupt_session_draft_starts_over(staff_client: Any, draft: Any) -> None:
    session = staff_client.session
    session[wizard.SESSION_KEY] = draft
    session.save()
    for step in ("name", "setup", "connect", "profiles"):
        response = staff_client.get(f"{WIZARD}{step}/")
        assert response.status_code in (200, 302)
        if step != "name":
            assert response["Location"] == f"{WIZARD}name/"


def test_a_draft_with_an_unreadable_test_result_counts_as_untested(staff_client: Any) -> None:
    arns = [ANCHOR, PROFILE, ROLE]
    session = staff_client.session
    session[wizard.SESSION_KEY] = {
        "name": "aws-x",
        "name_done": True,
        "setup_done": True,
        "connect_done": True,
        "trust_anchor_arn": ANCHOR,
        "profile_arn": PROFILE,
        "role_arn": ROLE,
        "tested_arns": arns,
        "probe": {"ok": True, "profiles": [{"unexpected": 1}]},
    }
    session.save()
    assert staff_client.get(f"{WIZARD}profiles/")["Location"] == f"{WIZARD}connect/"
    assert staff_client.get(f"{WIZARD}connect/").status_code == 200


# -- connect: parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "trust_anchor_arn", "Enter the trust anchor ARN"),
        ({"script_output": "Creating things\nno arns\n"}, "script_output", "The output has no"),
        (
            {"script_output": f"{ANCHOR}\n{PROFILE}\n"},
            "script_output",
            "The output has no sync role ARN",
        ),
        (
            {"trust_anchor_arn": PROFILE, "profile_arn": PROFILE, "role_arn": ROLE},
            "trust_anchor_arn",
            "trust anchor",
        ),
        (
            {"trust_anchor_arn": ANCHOR + "x", "profile_arn": PROFILE, "role_arn": ROLE},
            "trust_anchor_arn",
            "",
        ),
        (
            {"trust_anchor_arn": ANCHOR, "profile_arn": PROFILE, "role_arn": "RolegateSync"},
            "role_arn",
            "",
        ),
        (
            {
                "trust_anchor_arn": ANCHOR,
                "profile_arn": PROFILE.replace("123456789012", "210987654321"),
                "role_arn": ROLE,
            },
            "profile_arn",
            "same account",
        ),
        (
            {
                "trust_anchor_arn": ANCHOR,
                "profile_arn": PROFILE.replace("us-east-1", "eu-west-1"),
                "role_arn": ROLE,
            },
            "profile_arn",
            "same region",
        ),
        (
            {
                "trust_anchor_arn": ANCHOR,
                "profile_arn": PROFILE,
                "role_arn": ROLE.replace("123456789012", "210987654321"),
            },
            "role_arn",
            "its own account",
        ),
        (
            {"script_output": f"{ANCHOR}\n{PROFILE}\n{ROLE.replace('arn:aws', 'arn:aws-cn')}\n"},
            "script_output",
            "Sync role ARN:",
        ),
    ],
)
def test_connect_input_is_parsed_strictly(
    staff_client: Any, data: dict[str, str], field: str, message: str
) -> None:
    to_connect(staff_client)
    for action in ("test", "next"):
        response = staff_client.post(f"{WIZARD}connect/", {"action": action, **data})
        assert response.status_code == 400
        form = response.context["form"]
        assert field in form.errors, form.errors
        assert message in " ".join(form.errors[field])
    assert staff_client.get(f"{WIZARD}profiles/")["Location"] == f"{WIZARD}connect/"


# -- connect: AWS says no ---------------------------------------------------------------------


def connect(client: Any, anchor: str, profile: str, role: str, action: str = "test") -> Any:
    return client.post(
        f"{WIZARD}connect/",
        {"action": action, "trust_anchor_arn": anchor, "profile_arn": profile, "role_arn": role},
    )


def test_unknown_profile_is_explained(staff_client: Any, account: Account) -> None:
    account.setup_rolegate()
    to_connect(staff_client)
    response = connect(staff_client, account.anchor_arn, PROFILE, account.sync_role_arn)
    assert response.status_code == 400
    text = response.content.decode()
    assert "AWS does not know this trust anchor or profile." in text
    assert "Copy the ARNs again from the script output" in text
    assert "Profile not found" in text  # AWS's own words, below the explanation


def test_role_not_in_profile_is_explained(staff_client: Any, account: Account) -> None:
    account.setup_rolegate()
    other = account.add_role("SomethingElse", {"Version": "2012-10-17", "Statement": []})
    to_connect(staff_client)
    response = connect(staff_client, account.anchor_arn, account.sync_profile_arn, other)
    assert response.status_code == 400
    text = response.content.decode()
    assert "AWS refused to let Rolegate sign in with these ARNs." in text
    assert "Add the sync role to the sync profile" in text


def test_anchor_with_another_ca_is_explained(staff_client: Any, account: Account) -> None:
    from tests.wizard.test_probe import foreign_ca_pem

    account.setup_rolegate(ca_bundle=foreign_ca_pem())
    to_connect(staff_client)
    response = connect(
        staff_client, account.anchor_arn, account.sync_profile_arn, account.sync_role_arn
    )
    assert response.status_code == 400
    assert "does not trust Rolegate&#x27;s current CA" in response.content.decode()


def test_missing_list_permission_is_explained(staff_client: Any, account: Account) -> None:
    account.setup_rolegate(sync_actions=["iam:GetRole"])
    to_connect(staff_client)
    response = connect(
        staff_client, account.anchor_arn, account.sync_profile_arn, account.sync_role_arn
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "may not list the Roles Anywhere profiles" in text
    assert "rolesanywhere:ListProfiles" in text


def test_missing_get_role_permission_is_a_warning(staff_client: Any, account: Account) -> None:
    account.setup_rolegate(
        sync_actions=["rolesanywhere:ListProfiles", "rolesanywhere:ListTagsForResource"]
    )
    good = account.add_role("Good", {"Version": "2012-10-17", "Statement": []})
    account.add_profile("Uses-Good", [good])
    to_connect(staff_client)
    response = connect(
        staff_client, account.anchor_arn, account.sync_profile_arn, account.sync_role_arn
    )
    assert response.status_code == 200
    assert "may not call iam:GetRole" in response.content.decode()


def test_next_tests_when_not_tested_and_stays_on_failure(
    staff_client: Any, account: Account
) -> None:
    account.setup_rolegate()
    to_connect(staff_client)
    response = connect(staff_client, account.anchor_arn, PROFILE, account.sync_role_arn, "next")
    assert response.status_code == 400
    assert "AWS does not know this trust anchor or profile." in response.content.decode()
    assert staff_client.get(f"{WIZARD}profiles/")["Location"] == f"{WIZARD}connect/"


def test_empty_account_warns_but_may_continue(staff_client: Any, account: Account) -> None:
    account.setup_rolegate()
    to_connect(staff_client)
    response = connect(
        staff_client, account.anchor_arn, account.sync_profile_arn, account.sync_role_arn
    )
    assert response.status_code == 200
    assert "found no profiles besides its own" in response.content.decode()
    # The tested result is reused: Next does not sign in again.
    with_next = connect(
        staff_client, account.anchor_arn, account.sync_profile_arn, account.sync_role_arn, "next"
    )
    assert with_next.status_code == 302
    page = staff_client.get(f"{WIZARD}profiles/")
    assert "No profiles found in the account yet" in page.content.decode()


def test_changed_arns_need_a_new_test(staff_client: Any, account: Account) -> None:
    account.setup_rolegate()
    to_profiles(staff_client, account)
    response = staff_client.post(
        f"{WIZARD}connect/",
        {
            "action": "back",
            "trust_anchor_arn": account.anchor_arn,
            "profile_arn": PROFILE,
            "role_arn": account.sync_role_arn,
        },
    )
    assert response.status_code == 302
    assert staff_client.get(f"{WIZARD}profiles/")["Location"] == f"{WIZARD}connect/"


# -- choose profiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "filters", "filters": "\n  \n"}, "Enter at least one filter"),
        ({"mode": "filters", "filters": "Team-*\n^(unclosed$"}, "Line 2:"),
        ({"mode": "everything"}, "Select a valid choice"),
        ({"mode": "filters", "filters": "x" * 600}, "at most 512 characters"),
        ({"mode": "filters", "filters": "\n".join(f"p{i}" for i in range(101))}, "At most 100"),
    ],
)
def test_profile_filters_are_validated(
    staff_client: Any, account: Account, data: dict[str, str], message: str
) -> None:
    account.setup_rolegate()
    to_profiles(staff_client, account)
    response = staff_client.post(f"{WIZARD}profiles/", {"action": "enable", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    preview = staff_client.post(f"{WIZARD}profiles/preview/", data, **HTMX)
    assert preview.status_code == 200 and message in preview.content.decode()
    assert Integration.objects.count() == 0


def test_name_taken_meanwhile_is_a_conflict(staff_client: Any, account: Account) -> None:
    account.setup_rolegate()
    to_profiles(staff_client, account)
    existing_integration("aws-prod")
    response = staff_client.post(f"{WIZARD}profiles/", {"action": "enable", "mode": "all"})
    assert response.status_code == 409
    assert "was created meanwhile" in response.content.decode()
    assert Integration.objects.get().trust_anchor_arn == ANCHOR  # untouched


def test_all_profiles_saves_the_star_filter_and_back_keeps_filters(
    staff_client: Any, account: Account, django_capture_on_commit_callbacks: Any
) -> None:
    account.setup_rolegate()
    to_profiles(staff_client, account)
    back = staff_client.post(
        f"{WIZARD}profiles/", {"action": "back", "mode": "filters", "filters": "Keep-*"}
    )
    assert back["Location"] == f"{WIZARD}connect/"
    page = staff_client.get(f"{WIZARD}profiles/").content.decode()
    assert "Keep-*" in page
    assert re.search(r'<input[^>]*value="filters"[^>]*checked', page)
    assert not re.search(r'<input[^>]*value="all"[^>]*checked', page)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post(f"{WIZARD}profiles/", {"action": "enable", "mode": "all"})
    assert response.status_code == 302
    assert Integration.objects.get(name="aws-prod").profile_name_filters == ["*"]
    assert len(without_audit_seals(callbacks)) == 1


def test_refresh_lists_profiles_again(staff_client: Any, account: Account) -> None:
    account.setup_rolegate()
    to_profiles(staff_client, account)
    assert "No profiles found" in staff_client.get(f"{WIZARD}profiles/").content.decode()
    good = account.add_role("Good", target_role_trust_policy())
    account.add_profile("New-One", [good])
    response = staff_client.post(f"{WIZARD}profiles/", {"action": "refresh", "mode": "all"})
    assert response["Location"] == f"{WIZARD}profiles/"
    assert 'data-profile="New-One"' in staff_client.get(f"{WIZARD}profiles/").content.decode()


# -- done --------------------------------------------------------------------------------------


def test_done_for_an_unknown_integration_is_404(staff_client: Any) -> None:
    assert staff_client.get(f"{WIZARD}done/nope/").status_code == 404
    assert staff_client.get(f"{WIZARD}done/nope/progress/", **HTMX).status_code == 404


def test_done_hints_at_the_worker_when_nothing_ran(staff_client: Any) -> None:
    existing_integration("aws-waiting")
    Integration.objects.filter(name="aws-waiting").update(sync_enabled=True)
    response = staff_client.get(f"{WIZARD}done/aws-waiting/progress/", **HTMX)
    assert "queued" in response.content.decode() and "Is the Celery worker" not in (
        response.content.decode()
    )
    Integration.objects.filter(name="aws-waiting").update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    later = staff_client.get(f"{WIZARD}done/aws-waiting/progress/", **HTMX).content.decode()
    assert "Is the Celery worker running?" in later
