"""The whole wizard with Django's test client against the sandbox, with the real script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from apps.audit.models import AuditEvent
from apps.integrations.enrollment.script import MARKER, parse_script_output
from apps.integrations.models import Integration, SyncRun
from apps.resources.models import AwsApp
from tests.conftest import without_audit_seals
from tests.wizard.conftest import WIZARD, Account, run_script

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_whole_wizard_with_the_generated_script(
    staff_client: Any,
    staff_user: Any,
    account: Account,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
    eager_celery: Any,
) -> None:
    # Entry: a fresh wizard starts at the Name step.
    response = staff_client.get(WIZARD)
    assert response.status_code == 302 and response["Location"] == f"{WIZARD}name/"
    page = staff_client.get(f"{WIZARD}name/")
    assert page.status_code == 200
    assert 'placeholder="RolegateTrustAnchor-&lt;integration name&gt;"' in page.content.decode()

    # Step 1: live validation, then Next.
    check = staff_client.post(f"{WIZARD}name/check/", {"name": "aws-prod"}, **HTMX)
    assert check.status_code == 200
    assert "“aws-prod” is available" in check.content.decode()
    response = staff_client.post(
        f"{WIZARD}name/",
        {
            "action": "next",
            "name": "aws-prod",
            "trust_anchor": "RolegateTrustAnchor",
            "sync_role": "RolegateProfileSync",
            "sync_profile": "RolegateProfileSync",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"{WIZARD}setup/"

    # Step 2: the three ways; the script and the template download.
    setup = staff_client.get(f"{WIZARD}setup/")
    text = setup.content.decode()
    assert setup.status_code == 200
    for anchor in ('id="way-script"', 'id="way-cloudformation"', 'id="way-manual"'):
        assert anchor in text
    assert "rolesanywhere:ListProfiles" in text and "rolesanywhere.amazonaws.com" in text
    download = staff_client.get(f"{WIZARD}setup/rolegate-enroll.sh")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/x-shellscript")
    assert 'filename="rolegate-enroll-aws-prod.sh"' in download["Content-Disposition"]
    script = download.content.decode()
    assert script.startswith("#!")
    template = staff_client.get(f"{WIZARD}setup/rolegate-enroll.yaml")
    assert template.status_code == 200
    resources = yaml.safe_load(template.content)["Resources"]
    assert resources["SyncRole"]["Properties"]["RoleName"] == "RolegateProfileSync"

    # The operator runs the script "in CloudShell": bash + AWS CLI against the sandbox.
    result = run_script(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(MARKER) == 2
    account.add_app_profiles()

    response = staff_client.post(f"{WIZARD}setup/", {"action": "next"})
    assert response.status_code == 302 and response["Location"] == f"{WIZARD}connect/"

    # Step 3: paste the whole output and test.
    tested = staff_client.post(
        f"{WIZARD}connect/", {"action": "test", "script_output": result.stdout}
    )
    body = tested.content.decode()
    assert tested.status_code == 200, body
    assert "Success! Rolegate signed in and found 5 profiles." in body
    # The sync profile is hidden; every other profile is listed with its problems.
    assert ">RolegateProfileSync<" not in body
    assert "env=prod" in body
    assert "has no IAM roles" in body
    assert "Ec2Only: its trust policy does not trust rolesanywhere.amazonaws.com" in body
    assert "OtherAnchorOnly: its trust policy trusts rolesanywhere.amazonaws.com only" in body
    assert "disabled: it is not synced" in body
    assert "ExampleReadOnlyAccess:" not in body  # the good role has no warning
    assert Integration.objects.count() == 0

    response = staff_client.post(
        f"{WIZARD}connect/", {"action": "next", "script_output": result.stdout}
    )
    assert response.status_code == 302 and response["Location"] == f"{WIZARD}profiles/"

    # Step 4: the live preview, then Enable sync with a filter.
    preview = staff_client.post(
        f"{WIZARD}profiles/preview/", {"mode": "filters", "filters": "Team-*"}, **HTMX
    )
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "<strong>2</strong> of 5 profiles will be synced" in text
    assert 'data-profile="Team-A" data-synced="yes"' in text
    assert 'data-profile="Empty" data-synced="no"' in text
    assert 'data-profile="Off" data-synced="no"' in text
    assert Integration.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post(
            f"{WIZARD}profiles/", {"action": "enable", "mode": "filters", "filters": "Team-*\n"}
        )
    assert response.status_code == 302
    assert response["Location"] == f"{WIZARD}done/aws-prod/"
    integration = Integration.objects.get(name="aws-prod")
    assert integration.sync_enabled
    assert integration.profile_name_filters == ["Team-*"]
    assert integration.sync_profile_accepts_role_session_name is True
    arns = parse_script_output(result.stdout)
    assert (
        integration.trust_anchor_arn,
        integration.sync_profile_arn,
        integration.sync_role_arn,
    ) == (
        arns["trust_anchor_arn"],
        arns["profile_arn"],
        arns["role_arn"],
    )
    event = AuditEvent.objects.get(event_type="integration.created", target_name="aws-prod")
    assert event.actor_id == staff_user.pk
    callbacks = without_audit_seals(callbacks)
    assert len(callbacks) == 1  # the first sync, queued after commit

    # Done: queued (polling) until the worker runs the task.
    done = staff_client.get(response["Location"])
    assert done.status_code == 200
    assert 'data-state="queued"' in done.content.decode()
    assert 'hx-trigger="every 2s"' in done.content.decode()
    callbacks[0]()  # the broker hands the task to a worker (eager here)
    run = SyncRun.objects.get(integration=integration)
    assert run.status == SyncRun.Status.SUCCESS, run.error_message
    assert run.trigger == SyncRun.Trigger.CHANGE
    progress = staff_client.get(f"{WIZARD}done/aws-prod/progress/", **HTMX)
    text = progress.content.decode()
    assert 'data-state="finished"' in text and "hx-trigger" not in text
    assert "<tr><th>Profiles synced (apps)</th><td>2</td></tr>" in text
    assert 'href="/"' in text
    assert f"/admin/integrations/integration/{integration.pk}/change/" in text
    assert sorted(AwsApp.objects.values_list("name", flat=True)) == [
        "team-a-aws-prod",
        "team-b-aws-prod",
    ]

    # The draft is gone: the next wizard starts from scratch.
    assert staff_client.get(WIZARD)["Location"] == f"{WIZARD}name/"
    assert 'value="aws-prod"' not in staff_client.get(f"{WIZARD}name/").content.decode()
