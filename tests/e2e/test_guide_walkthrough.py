"""The reference guide's story in a real browser, set up exactly as `make demo` sets it up.

The demo command's own set-up runs against the test sandbox (seeded as `--seed guide` seeds it):
the wizard's AWS CLI script with the operator's credentials file, the integration, the role
`example-read-only-access` and alice as resource documents, the first profile sync. The portal
gets the demo's AWS environment (`demo.aws_environment`). Then chromium (Debian's, driven by
Playwright) walks the guide's step 4 as alice and checks the result as the admin, saving one
screenshot per step under test-artifacts/walkthrough/; docs/walkthrough/ holds copies for the
README.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.core.management import call_command
from django.db import connections

from apps.audit.models import AuditEvent
from apps.demo import demo
from apps.demo.management.commands.demo import Command as DemoCommand
from apps.integrations.models import Integration, SyncRun
from apps.resources.services import EVENT_CONSOLE_SIGNIN, EVENT_CREDENTIALS_ISSUED
from sandbox.seed import seed_guide, write_credentials_file
from sandbox.server import Sandbox

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "walkthrough"
CHROMIUM = shutil.which("chromium")
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
CONSOLE_ARN = "arn:aws:sts::123456789012:assumed-role/ExampleReadOnlyAccess/alice"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (`make browser` or apt-get install chromium)",
    ),
]


@pytest.fixture
def demo_environment(
    sandbox: Sandbox, live_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Sandbox:
    """The environment `make demo` gives the portal, with the live server as the public URL."""
    from portal.celery import app

    # The portal must reach AWS only through its own certificates, never ambient credentials.
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_ROLESANYWHERE",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in demo.aws_environment(sandbox.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.ROLEGATE_PUBLIC_URL = live_server.url
    # The demo's worker runs the sync that creating the integration queues; here it runs in
    # process, because the filesystem broker's queue is shared with any running demo.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)
    # Playwright's sync API runs an event loop in this thread; the ORM calls are ours.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return sandbox


def set_up_like_the_demo(sandbox: Sandbox, var_dir: Path) -> dict[str, str]:
    """Seed the sandbox as `--seed guide` does, then run the demo command's set-up (steps 1-3)."""
    seeded = seed_guide(sandbox)
    credentials_file = write_credentials_file(
        var_dir / "sandbox" / "credentials", seeded["operator"]
    )
    command = DemoCommand(stdout=io.StringIO(), stderr=io.StringIO())
    passwords: dict[str, str] = command.set_up(
        sandbox.url, credentials_file, demo.DemoLogins.load(var_dir / "demo-logins")
    )
    assert (
        demo.guide_profile_arn(sandbox_url=sandbox.url, credentials_file=credentials_file)
        == seeded["profile_arn"]
    )
    return passwords


def sign_in(page: Any, base_url: str, username: str, password: str, next_path: str) -> None:
    """Open the sign-in page and fill the form; the caller submits it (after a screenshot)."""
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)


@pytest.mark.django_db(transaction=True)
def test_the_guide_in_a_browser_as_the_demo_sets_it_up(
    live_server: Any, demo_environment: Sandbox, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    sandbox = demo_environment
    passwords = set_up_like_the_demo(sandbox, tmp_path / "var")

    # Step 1's check, as the README shows it: the operator's view of the integration.
    out = io.StringIO()
    call_command("get", f"integration/{demo.DEMO_INTEGRATION}", stdout=out)
    assert "status: SUCCESS" in out.getvalue()
    assert "synced_profiles: 1" in out.getvalue()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page: Any = None
        try:
            # Step 4, console: alice signs in, finds the guide's app, launches it.
            alice = browser.new_context(viewport=VIEWPORT)
            page = alice.new_page()
            page.set_default_timeout(20_000)
            page.on(
                "console",
                lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None,
            )
            sign_in(page, base, "alice", passwords["alice"], "/")
            page.screenshot(path=str(ARTIFACTS / "01-sign-in.png"))
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page).to_have_url(f"{base}/")
            row = page.locator("tbody tr", has_text=demo.GUIDE_APP)
            expect(row).to_have_count(1)
            expect(row).to_contain_text(demo.GUIDE_ROLE_ARN)
            page.screenshot(path=str(ARTIFACTS / "02-resources.png"))

            row.get_by_role("link", name="Launch", exact=True).click()
            dialog = page.locator("#launch-dialog")
            expect(dialog).to_be_visible()
            expect(dialog.locator("#launch-title")).to_have_text(f"Launch {demo.GUIDE_APP}")
            dialog.locator("#launch-role").select_option(demo.GUIDE_ROLE_ARN)
            page.screenshot(path=str(ARTIFACTS / "03-launch.png"))
            dialog.get_by_role("button", name="Open the AWS console").click()

            # The federation sign-in lands on the sandbox's console page, as alice.
            expect(page.locator("#assumed-role-arn")).to_have_text(CONSOLE_ARN)
            assert page.url.startswith(f"{sandbox.url}/federation?Action=login&")
            expect(page.locator("#issuer")).to_have_text(base)
            page.screenshot(path=str(ARTIFACTS / "04-console.png"))
            alice.close()

            # The admin sees alice's launch in the audit log.
            admin = browser.new_context(viewport=VIEWPORT)
            page = admin.new_page()
            page.set_default_timeout(20_000)
            page.on(
                "console",
                lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None,
            )
            sign_in(page, base, "admin", passwords["admin"], "/audit/")
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page).to_have_url(f"{base}/audit/")
            page.fill("input[name=actor]", "alice")
            page.get_by_role("button", name="Filter").click()
            # Leaving the field (change) and the click (submit) both ask htmx for the list; wait
            # until the answer is in before opening a row, or a late swap closes it again.
            page.wait_for_load_state("networkidle")
            # A console launch is one issuance with purpose "console"; only a failed federation
            # sign-in adds an aws_console.signed_in event.
            launch = page.locator("#audit-results tbody tr", has_text=EVENT_CREDENTIALS_ISSUED)
            expect(launch).to_have_count(1)
            expect(launch).to_contain_text("success")
            expect(launch).to_contain_text(f"app/{demo.GUIDE_APP}")
            expect(launch).to_contain_text("console")  # the purpose column
            launch.get_by_role("button", name="Details").click()
            details = launch.locator("xpath=following-sibling::tr[1]").locator("pre")
            expect(details).to_be_visible()
            expect(details).to_contain_text('"purpose": "console"')
            expect(details).to_contain_text(demo.GUIDE_ROLE_ARN)
            page.screenshot(path=str(ARTIFACTS / "05-audit.png"))

            # ... and the integration's last sync as SUCCESS (step 1's checkpoint).
            page.goto(f"{base}/admin/integrations/integration/")
            integration_row = page.locator("#result_list tbody tr", has_text=demo.DEMO_INTEGRATION)
            expect(integration_row).to_contain_text("OK 1 profile(s) synced")
            integration_row.get_by_role("link", name=demo.DEMO_INTEGRATION).click()
            expect(page.locator("div.field-health")).to_contain_text("OK 1 profile(s) synced")
            last_run = page.locator("#sync_runs-group tbody tr.form-row").first
            expect(last_run.locator("td.field-status")).to_have_text("Success")
            expect(last_run.locator("td.field-profiles_synced")).to_have_text("1")
            last_run.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "06-integration.png"))

            # ... and the guide's role as step 3 wrote it.
            page.goto(f"{base}/manage/roles/{demo.DEMO_ROLE}/")
            expect(page.locator("body")).to_contain_text(demo.GUIDE_ROLE_ARN)
            page.screenshot(path=str(ARTIFACTS / "07-role.png"))
            admin.close()
        except Exception:
            if page is not None and not page.is_closed():
                page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
            # ORM calls made while Playwright's loop runs get their own connection; close it,
            # or the test database stays in use.
            connections.close_all()

    integration = Integration.objects.get(name=demo.DEMO_INTEGRATION)
    last_run = SyncRun.objects.filter(integration=integration).order_by("-started_at").first()
    assert last_run is not None and last_run.status == SyncRun.Status.SUCCESS
    launches = AuditEvent.objects.filter(event_type=EVENT_CREDENTIALS_ISSUED, actor_name="alice")
    assert [(event.outcome, event.target_name, event.details["purpose"]) for event in launches] == [
        (AuditEvent.Outcome.SUCCESS, demo.GUIDE_APP, "console")
    ]
    assert not AuditEvent.objects.filter(event_type=EVENT_CONSOLE_SIGNIN).exists()
    # CSP forbids inline scripts and styles: Rolegate's own pages walked here must not trip it.
    # (The Django admin's integration list is left out: its health column still carries an
    # inline style attribute, which the browser blocks; the text stays readable.)
    assert not [
        error
        for error in errors
        if "Content Security Policy" in error and not error.startswith(f"{base}/admin/")
    ], errors
