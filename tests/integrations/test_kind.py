"""`create -f`, `get`, `rm` for `kind: integration`: validation, audit, nothing written on error."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditEvent
from apps.integrations.models import Integration, SyncRun
from apps.resources.models import AwsApp

pytestmark = pytest.mark.django_db

ANCHOR = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0b7e1a4e-55f7-4a3c-9b0e-4d1f1c2b3a4d"
)
PROFILE = (
    "arn:aws:rolesanywhere:us-east-1:123456789012:profile/1c8f2b5f-66a8-4b4d-8c1f-5e2a2d3c4b5e"
)
ROLE = "arn:aws:iam::123456789012:role/RolegateProfileSync"

GOOD = f"""\
kind: integration
sub_kind: aws-ra
version: v1
metadata:
  name: aws-prod
spec:
  aws_ra:
    trust_anchor_arn: {ANCHOR}
    profile_sync_config:
      enabled: true
      profile_arn: {PROFILE}
      role_arn: {ROLE}
      profile_name_filters: ["MyTeam-*", "^MyTeam-.*$"]
"""


def create(tmp_path: Path, text: str, *, force: bool = False) -> str:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("create", "-f", str(path), *(["--force"] if force else []), stdout=out)
    return out.getvalue()


def get(reference: str = "integration/aws-prod") -> Any:
    out = io.StringIO()
    call_command("get", reference, stdout=out)
    return yaml.safe_load(out.getvalue())


def test_create_get_roundtrip_and_audit(tmp_path: Path) -> None:
    assert 'integration "aws-prod" has been created' in create(tmp_path, GOOD)
    document = get()
    assert document["kind"] == "integration" and document["sub_kind"] == "aws-ra"
    sync = document["spec"]["aws_ra"]["profile_sync_config"]
    assert sync == {
        "enabled": True,
        "profile_arn": PROFILE,
        "role_arn": ROLE,
        "profile_accepts_role_session_name": False,
        "profile_name_filters": ["MyTeam-*", "^MyTeam-.*$"],
    }
    assert "status" not in document  # never synced
    assert AuditEvent.objects.filter(event_type="integration.created").count() == 1

    # `get` output is valid `create --force` input; an identical document changes nothing.
    create(tmp_path, yaml.safe_dump(document), force=True)
    assert AuditEvent.objects.filter(event_type="integration.updated").count() == 0

    create(tmp_path, GOOD.replace('["MyTeam-*", "^MyTeam-.*$"]', '["*"]'), force=True)
    assert Integration.objects.get().profile_name_filters == ["*"]
    updated = AuditEvent.objects.get(event_type="integration.updated")
    assert updated.details["before"]["profile_name_filters"] == ["MyTeam-*", "^MyTeam-.*$"]


def test_get_shows_last_finished_run_status(tmp_path: Path) -> None:
    from django.utils import timezone

    create(tmp_path, GOOD)
    integration = Integration.objects.get()
    now = timezone.now()
    SyncRun.objects.create(
        integration=integration,
        status="SUCCESS",
        started_at=now,
        ended_at=now,
        profiles_synced=4,
    )
    SyncRun.objects.create(integration=integration, status="SKIPPED", started_at=now, ended_at=now)
    last = get()["status"]["aws_ra"]["last_profile_sync"]
    assert list(last) == ["status", "synced_profiles", "error_message", "start_time", "end_time"]
    assert (last["status"], last["synced_profiles"], last["error_message"]) == ("SUCCESS", 4, "")


def test_existing_integration_needs_force(tmp_path: Path) -> None:
    create(tmp_path, GOOD)
    with pytest.raises(CommandError, match="already exists"):
        create(tmp_path, GOOD)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("sub_kind: aws-ra", "sub_kind: aws-oidc", "unsupported sub_kind 'aws-oidc'"),
        ("sub_kind: aws-ra\n", "", "sub_kind: is required"),
        ("version: v1", "version: v9", "unsupported version 'v9'"),
        ("name: aws-prod", "name: Integration Name", "metadata.name"),
        (
            f"trust_anchor_arn: {ANCHOR}",
            "trust_anchor_arn: nope",
            "'nope' is not a valid trust anchor ARN",
        ),
        (f"role_arn: {ROLE}", f"role_arn: {PROFILE}", "is a 'rolesanywhere' ARN"),
        (f"      profile_arn: {PROFILE}\n", "", "profile_arn is required when"),
        ('["MyTeam-*", "^MyTeam-.*$"]', '["^[invalid-regex{$"]', "'^[invalid-regex{$'"),
        ("enabled: true", "enabled: yes please", "must be true or false"),
        ("  aws_ra:", "  aws_rx:", "unknown field(s): aws_rx"),
        ("metadata:", "metadata: [", "invalid YAML"),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_written(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    good_first = GOOD.replace("aws-prod", "first")
    bad = GOOD.replace(old, new, 1)
    assert bad != GOOD
    with pytest.raises(CommandError) as caught:
        create(tmp_path, good_first + "---\n" + bad)
    assert message in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert not Integration.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="integration.").exists()


def test_sub_kind_cannot_change(tmp_path: Path) -> None:
    create(tmp_path, GOOD)
    with pytest.raises(CommandError, match="sub_kind cannot change"):
        create(tmp_path, GOOD.replace("sub_kind: aws-ra", "sub_kind: aws-oidc"), force=True)


def test_rm_deletes_integration_apps_and_audits(tmp_path: Path) -> None:
    from django.utils import timezone

    create(tmp_path, GOOD)
    integration = Integration.objects.get()
    AwsApp.objects.create(
        name="x-aws-prod",
        integration=integration,
        profile_arn=PROFILE,
        profile_name="x",
        account_id="123456789012",
        region="us-east-1",
        partition="aws",
        console_url="https://console.aws.amazon.com/",
        last_confirmed_at=timezone.now(),
    )
    call_command("rm", "integration/aws-prod", stdout=io.StringIO())
    assert not Integration.objects.exists() and not AwsApp.objects.exists()
    event = AuditEvent.objects.get(event_type="integration.deleted")
    assert event.details["apps"] == ["x-aws-prod"]
    with pytest.raises(CommandError, match="not found"):
        call_command("rm", "integration/aws-prod", stdout=io.StringIO())


def test_sync_of_unknown_or_disabled_integration_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="integration 'nope' not found"):
        call_command("sync_profiles", "nope", stdout=io.StringIO())
    create(tmp_path, GOOD.replace("enabled: true", "enabled: false"))
    with pytest.raises(CommandError, match="profile sync is disabled"):
        call_command("sync_profiles", "aws-prod", stdout=io.StringIO())
