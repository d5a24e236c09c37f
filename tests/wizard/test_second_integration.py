"""Two integrations in one account with the wizard's default names: both set up, both sync, and
neither imports the other's sync profile (issue 24, item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.integrations.enrollment.policies import default_names
from apps.integrations.models import SyncRun
from apps.integrations.services.sync import integration_sync
from apps.resources.models import AwsApp
from tests.wizard.conftest import WIZARD, Account, run_script

pytestmark = pytest.mark.django_db


def _enroll_with_defaults(client: Any, name: str, tmp_path: Path, prepare: Any = None) -> str:
    """Walk the wizard for ``name`` leaving every AWS name blank and every default choice."""
    page = client.get(f"{WIZARD}name/").content.decode()
    assert 'placeholder="RolegateTrustAnchor-&lt;integration name&gt;"' in page
    response = client.post(
        f"{WIZARD}name/",
        {"action": "next", "name": name, "trust_anchor": "", "sync_role": "", "sync_profile": ""},
    )
    assert response.status_code == 302, response.content.decode()
    script = client.get(f"{WIZARD}setup/rolegate-enroll.sh").content.decode()
    for value in default_names(name).values():
        assert value in script
    result = run_script(script, tmp_path)
    assert result.returncode == 0, result.stderr
    if prepare is not None:
        prepare()
    assert client.post(f"{WIZARD}setup/", {"action": "next"}).status_code == 302
    tested = client.post(f"{WIZARD}connect/", {"action": "next", "script_output": result.stdout})
    assert tested.status_code == 302, tested.content.decode()
    profiles = client.get(f"{WIZARD}profiles/").content.decode()
    # The default choice is "all", which leaves out every profile tagged as Rolegate's own.
    assert 'value="all"' in profiles and "except Rolegate&#x27;s own" in profiles
    response = client.post(f"{WIZARD}profiles/", {"action": "enable", "mode": "all"})
    assert response.status_code == 302, response.content.decode()
    return result.stdout


def test_second_integration_with_default_names(
    staff_client: Any,
    account: Account,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
    eager_celery: Any,
) -> None:
    first, second = "aws-one", "aws-two"
    assert default_names(first)["trust_anchor"] == "RolegateTrustAnchor-aws-one"
    assert default_names(first) != default_names(second)

    def app_profile() -> None:
        from apps.integrations.enrollment.policies import target_role_trust_policy

        role = account.add_role("ExampleReadOnlyAccess", target_role_trust_policy())
        account.add_profile("Team-A", [role])

    (tmp_path / "1").mkdir()
    with django_capture_on_commit_callbacks(execute=True):
        _enroll_with_defaults(staff_client, first, tmp_path / "1", app_profile)
    (tmp_path / "2").mkdir()
    with django_capture_on_commit_callbacks(execute=True):
        _enroll_with_defaults(staff_client, second, tmp_path / "2")

    # Each profile-sync profile exists once, under its own integration's name.
    listed = {p["name"] for p in account.ra.list_profiles()["profiles"]}
    assert {default_names(first)["sync_profile"], default_names(second)["sync_profile"]} <= listed

    for name in (first, second):
        outcome = integration_sync(name=name)
        assert outcome.status == SyncRun.Status.SUCCESS, outcome.error_message
        apps = set(AwsApp.objects.filter(integration__name=name).values_list("name", flat=True))
        # Only the app profile: neither integration's sync profile became an app.
        assert apps == {f"team-a-{name}"}, apps
        # The other integration's sync profile is listed and skipped (its own by ARN, the
        # other's by its ownership tag), together with the own one.
        assert outcome.profiles_skipped == 2
