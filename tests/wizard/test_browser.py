"""A real browser (Playwright driving Debian's chromium) walks the wizard against the sandbox,
saving a screenshot per step under test-artifacts/wizard/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from apps.integrations.models import Integration, SyncRun
from apps.integrations.tasks import sync_integration
from apps.resources.models import AwsApp
from tests.wizard.conftest import Account, run_script

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "wizard"
CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (`make browser` or apt-get install chromium)",
    ),
]


@pytest.fixture
def memory_broker(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Queue tasks in memory, where no worker takes them: the test plays the worker, so the
    browser sees the Done step wait and then update by itself."""
    from portal.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_url", "memory://")
    monkeypatch.setitem(app.conf, "broker_transport_options", {})
    # Drop connection pools built for another broker earlier in this process.
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    return app


@pytest.mark.django_db(transaction=True)
def test_browser_walks_the_wizard(
    live_server: Any,
    make_user: Any,
    account: Account,
    memory_broker: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls below are ours.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    make_user("operator", is_staff=True, password="correct horse battery")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.set_default_timeout(20_000)
        try:
            page.goto(f"{live_server.url}/accounts/login/?next=/manage/")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", "correct horse battery")
            page.click("button[type=submit]")
            page.click("text=Enrollment wizard")
            expect(page).to_have_url(f"{live_server.url}/manage/integrations/enroll/name/")

            # 1. Name: validated live as it is typed.
            page.fill("input[name=name]", "Bad Name")
            expect(page.locator("#name-feedback")).to_contain_text("lowercase letters")
            page.fill("input[name=name]", "aws-browser")
            expect(page.locator("#name-feedback")).to_contain_text("“aws-browser” is available")
            page.click("summary")
            expect(page.locator("input[name=sync_role]")).to_have_attribute(
                "placeholder", "RolegateProfileSync-aws-browser"
            )
            page.screenshot(path=str(ARTIFACTS / "01-name.png"), full_page=True)
            page.click("button[value=next]")

            # 2. Set up AWS: three ways; the downloaded script is what the operator runs.
            expect(page.locator("#way-manual")).to_contain_text("rolesanywhere:ListProfiles")
            page.screenshot(path=str(ARTIFACTS / "02-setup.png"), full_page=True)
            with page.expect_download() as download_info:
                page.click("text=Download script")
            script_path = tmp_path / "downloaded.sh"
            download_info.value.save_as(script_path)
            script = script_path.read_text()
            page.click("summary")
            assert page.locator("#enroll-script").text_content() == script
            result = run_script(script, tmp_path)
            assert result.returncode == 0, result.stderr
            account.add_app_profiles()
            page.click("button[value=next]")

            # 3. Connect: paste the output, test.
            page.fill("textarea[name=script_output]", result.stdout)
            page.click("button[value=test]")
            expect(page.locator("#test-result")).to_contain_text("found 5 profiles")
            expect(page.locator("#profiles-found")).to_contain_text("has no IAM roles")
            expect(page.locator("#profiles-found")).not_to_contain_text("RolegateProfileSync")
            page.screenshot(path=str(ARTIFACTS / "03-connect.png"), full_page=True)
            page.click("button[value=next]")

            # 4. Choose profiles: the preview follows the filters as they are typed.
            expect(page.locator("#profile-preview")).to_contain_text("4 of 5 profiles")
            page.check("input[value=filters]")
            page.fill("textarea[name=filters]", "Team-*")
            expect(page.locator("#profile-preview")).to_contain_text("2 of 5 profiles")
            page.screenshot(path=str(ARTIFACTS / "04-profiles.png"), full_page=True)
            assert Integration.objects.count() == 0
            page.click("button[value=enable]")

            # 5. Done: waits for the first sync, then shows its counts by itself.
            progress = page.locator("#sync-progress")
            expect(progress).to_have_attribute("data-state", "queued")
            page.screenshot(path=str(ARTIFACTS / "05-done-waiting.png"), full_page=True)
            integration = Integration.objects.get(name="aws-browser")
            outcome = sync_integration.apply(args=(integration.pk, "change")).get()
            assert outcome["status"] == "SUCCESS", outcome
            expect(progress).to_have_attribute("data-state", "finished", timeout=15_000)
            expect(page.locator("#sync-counts")).to_contain_text("Profiles synced (apps)")
            page.screenshot(path=str(ARTIFACTS / "06-done.png"), full_page=True)
            page.click("text=Go to Resources")
            expect(page).to_have_url(f"{live_server.url}/")
            page.screenshot(path=str(ARTIFACTS / "07-resources.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            context.close()
            browser.close()
            # ORM calls made while Playwright's loop runs get their own connection (asgiref
            # locals follow the loop's context); close it, or the test database stays in use.
            connections.close_all()

    assert SyncRun.objects.filter(integration__name="aws-browser").count() == 1
    assert sorted(AwsApp.objects.values_list("name", flat=True)) == [
        "team-a-aws-browser",
        "team-b-aws-browser",
    ]
    # CSP forbids inline scripts and styles: the wizard must not trip it.
    assert not [e for e in errors if "Content Security Policy" in e], errors
