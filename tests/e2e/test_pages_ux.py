"""Every page for every persona in a real browser (issue 24).

At 1,280 x 800 and 390 x 844, light and dark, each page fits its viewport (no horizontal
scrolling), logs no console error, and axe-core finds no serious or critical violation. Also:
server errors appear in the request form and the role editor, 5xx and network failures show the
banner, and 403/404 pages keep the layout.

Screenshots of every page go to test-artifacts/ux/; with ROLEGATE_UPDATE_SCREENSHOTS=1 a chosen
set is copied to docs/screenshots/ (the README shows them). axe-core is vendored under
tests/e2e/vendor/axe-core/.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from tests.resources.conftest import ACCESS_ROLE, INTEGRATION
from tests.security.conftest import World

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ux"
DOCS = ROOT / "docs" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (`make browser` or apt-get install chromium)",
    ),
]

VARIANTS: tuple[tuple[str, dict[str, int], str], ...] = (
    ("1280", {"width": 1280, "height": 800}, "light"),
    ("390", {"width": 390, "height": 844}, "light"),
    ("1280-dark", {"width": 1280, "height": 800}, "dark"),
    ("390-dark", {"width": 390, "height": 844}, "dark"),
)


@dataclass(frozen=True)
class Page:
    """One page to visit: a slug for the file names, the path, the status it answers."""

    slug: str
    path: Callable[[World], str]
    status: int = 200


def at(path: str) -> Callable[[World], str]:
    return lambda world: path


def _request_detail(world: World) -> str:
    return f"/requests/{world.access_request().pk}/"


def _explain(world: World) -> str:
    return f"/manage/explain/?user=alice&app={world.app_name}"


# Each persona's pages: what the URL matrix says they may open, plus a refusal or two.
PAGES: dict[str, tuple[Page, ...]] = {
    "anonymous": (Page("sign-in", at("/accounts/login/")), Page("404", at("/no-such-page/"), 404)),
    "user": (
        Page("resources-empty", at("/")),
        Page("requests", at("/requests/")),
        Page("request-new-none", at("/requests/new/")),
        Page("cli-tokens", at("/cli/tokens")),
        Page("403", at("/audit/"), 403),
        Page("403-manage", at("/manage/"), 403),
    ),
    "member": (Page("resources", at("/")), Page("404-signed-in", at("/no-such-page/"), 404)),
    "other": (Page("request-new", at("/requests/new/")), Page("request-detail", _request_detail)),
    "reviewer": (Page("review-queue", at("/requests/review/")),),
    "staff": (
        Page("manage", at("/manage/")),
        Page("users", at("/manage/users/")),
        Page("user-detail", at("/manage/users/alice/")),
        Page("roles", at("/manage/roles/")),
        Page("role-edit", at(f"/manage/roles/{ACCESS_ROLE}/")),
        Page("role-new-yaml", at("/manage/roles/-/new/?mode=yaml")),
        Page("explain", _explain),
        Page("audit", at("/audit/")),
        Page("integrations", at("/manage/integrations/")),
        Page("integration-detail", at(f"/manage/integrations/{INTEGRATION}/")),
        Page("wizard-name", at("/manage/integrations/enroll/name/")),
        Page("request-history", at("/requests/history/")),
    ),
    "auditor": (Page("audit-auditor", at("/audit/")), Page("403-users", at("/manage/users/"), 403)),
    "access_admin": (Page("users-access-admin", at("/manage/users/")),),
    "integration_admin": (Page("integrations-admin", at("/manage/integrations/")),),
}
# Copied to docs/screenshots/ for the README.
DOC_PAGES = (
    "sign-in",
    "resources",
    "request-new",
    "request-detail",
    "users",
    "user-detail",
    "role-edit",
    "audit",
    "integration-detail",
    "403",
)


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in this thread; the ORM calls are ours.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _session_cookie(world: World, persona: str, base: str) -> list[dict[str, Any]]:
    if persona == "anonymous":
        return []
    client = Client()
    client.force_login(world.users[persona])
    value = client.cookies["sessionid"].value
    return [{"name": "sessionid", "value": value, "url": base}]


class _Network:
    """The page's requests in flight, for a settle wait shorter than Playwright's networkidle
    (which always waits 500 ms after the last request): a page has settled once nothing has
    been in flight for QUIET_SECONDS, so htmx fragments loaded after `load` are in."""

    QUIET_SECONDS = 0.1

    def __init__(self, page: Any) -> None:
        self.in_flight = 0
        self.last_change = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, _: Any) -> None:
        self.in_flight += 1
        self.last_change = time.monotonic()

    def _ended(self, _: Any) -> None:
        self.in_flight -= 1
        self.last_change = time.monotonic()

    def settle(self, page: Any, label: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.in_flight <= 0 and time.monotonic() - self.last_change >= self.QUIET_SECONDS:
                return
            page.wait_for_timeout(20)  # lets Playwright deliver the request events
        raise AssertionError(f"{label}: still loading after {timeout:.0f} s")


def _check_page(page: Any, label: str, failures: list[str]) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if sizes[0] > sizes[1]:
        culprits = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
              .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"""
        )
        failures.append(f"{label}: {sizes[0]}px wide at {sizes[1]}px: {culprits}")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    if result:
        failures.append(f"{label}: axe {json.dumps(result)}")


@pytest.mark.django_db(transaction=True)
def test_every_page_fits_is_accessible_and_logs_no_errors(live_server: Any, world: World) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    failures: list[str] = []
    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for persona, pages in PAGES.items():
                paths = [(item, item.path(world)) for item in pages]
                cookies = _session_cookie(world, persona, base)
                for variant, viewport, scheme in VARIANTS:
                    context = browser.new_context(
                        viewport=viewport,  # type: ignore[arg-type]
                        color_scheme=scheme,  # type: ignore[arg-type]
                        bypass_csp=True,  # only so the test can inject axe-core
                    )
                    context.add_cookies(cookies)  # type: ignore[arg-type]
                    page = context.new_page()
                    page.set_default_timeout(20_000)
                    network = _Network(page)
                    errors: list[str] = []
                    page.on(
                        "console",
                        lambda m, e=errors: e.append(m.text) if m.type == "error" else None,
                    )
                    page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                    for item, path in paths:
                        errors.clear()
                        label = f"{persona} {item.slug} {variant}"
                        response = page.goto(base + path)
                        assert response is not None
                        if response.status != item.status:
                            failures.append(f"{label}: {response.status}, not {item.status}")
                        network.settle(page, label)
                        _check_page(page, label, failures)
                        # A refusal's own status line is the one console error expected.
                        unexpected = [
                            e
                            for e in errors
                            if not (item.status >= 400 and "Failed to load resource" in e)
                        ]
                        if unexpected:
                            failures.append(f"{label}: console errors {unexpected}")
                        shot = ARTIFACTS / f"{item.slug}-{variant}.png"
                        page.screenshot(path=str(shot), full_page=True)
                        shots.append(shot)
                        if item.status >= 400:
                            # In the layout: the top bar, and the way back.
                            assert page.locator("header.topbar").count() == 1, label
                            assert page.locator(".error-page a.button").count() >= 1, label
                    if variant == "390" and cookies:
                        # The collapsed top bar opens and still fits.
                        page.get_by_role("button", name="Menu").click()
                        nav = page.get_by_role("navigation", name="Main")
                        assert nav.is_visible(), f"{persona}: menu does not open"
                        _check_page(page, f"{persona} menu-open {variant}", failures)
                    context.close()
        finally:
            browser.close()
            connections.close_all()
    # The README's copies change only when asked (timestamps and ids differ on every run, and a
    # test run must not dirty the checkout): ROLEGATE_UPDATE_SCREENSHOTS=1 refreshes them.
    if os.environ.get("ROLEGATE_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        wanted = {f"{slug}-{v}" for slug in DOC_PAGES for v in ("1280", "390", "1280-dark")}
        for shot in shots:
            if shot.stem in wanted:
                shutil.copyfile(shot, DOCS / shot.name)
    assert failures == [], "\n".join(failures)


@pytest.mark.django_db(transaction=True)
def test_server_errors_show_in_the_page(live_server: Any, world: World) -> None:
    """The request form and the role editor show the server's 4xx answer; a 5xx or a network
    failure shows the banner; nothing is left in the console from htmx."""
    from playwright.sync_api import expect, sync_playwright

    base = live_server.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies(_session_cookie(world, "other", base))  # type: ignore[arg-type]
            page = context.new_page()
            page.set_default_timeout(20_000)
            htmx_errors: list[str] = []
            page.on(
                "console",
                lambda m: (
                    htmx_errors.append(m.text) if m.type == "error" and "htmx" in m.text else None
                ),
            )
            # The request form: a duration longer than the roles allow is answered 400.
            page.goto(f"{base}/requests/new/")
            page.get_by_label(ACCESS_ROLE).check()
            page.get_by_label("Reason").fill("on call")
            page.get_by_label("Access duration").fill("100h")
            page.get_by_role("button", name="Send the request").click()
            expect(page.locator("#request-errors")).to_contain_text("longer than")
            page.screenshot(path=str(ARTIFACTS / "request-form-error.png"))
            # A 5xx from the server and a network failure: the banner says so.
            page.route("**/requests/new/", lambda route: route.fulfill(status=500, body="x"))
            page.get_by_role("button", name="Send the request").click()
            banner = page.locator("#htmx-error-banner")
            expect(banner).to_be_visible()
            expect(banner).to_contain_text("could not complete the request (500)")
            page.get_by_role("button", name="Dismiss").click()
            expect(banner).to_be_hidden()
            page.unroute("**/requests/new/")
            page.route("**/requests/new/", lambda route: route.abort())
            page.get_by_role("button", name="Send the request").click()
            expect(banner).to_contain_text("could not be reached")
            context.close()

            # The role editor: a glob in an allow ARN is refused in words, inline, live.
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies(_session_cookie(world, "staff", base))  # type: ignore[arg-type]
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on(
                "console",
                lambda m: (
                    htmx_errors.append(m.text) if m.type == "error" and "htmx" in m.text else None
                ),
            )
            page.goto(f"{base}/manage/roles/-/new/")
            page.locator("#id_name").fill("ux-role")
            page.locator("#id_allow_labels").fill("env: dev")
            page.locator("#id_allow_arns").fill("arn:aws:iam::123456789012:role/Dev*")
            expect(page.locator("#errors-allow_arns")).to_contain_text("only allowed in deny rules")
            # Saving anyway: the server's 400 page shows the same error in the editor.
            page.get_by_role("button", name="Create role").click()
            expect(page.locator("#errors-allow_arns")).to_contain_text("only allowed in deny rules")
            page.screenshot(path=str(ARTIFACTS / "role-editor-error.png"), full_page=True)
            # The YAML tab opens on a starter document, with no htmx errors on the way.
            page.get_by_role("link", name="YAML").click()
            expect(page.locator("#id_document")).to_contain_text("kind: role")
            page.locator("#id_document").press("End")
            page.locator("#id_document").type(" ")
            page.wait_for_timeout(900)
            context.close()

            _refusals_after_access_ended(browser, base, world, htmx_errors)
        finally:
            browser.close()
            connections.close_all()
    # htmx itself reports a failed connection in the console (as the browser does); a refused or
    # failed answer must not be an htmx error, nor may any swap miss its target.
    assert [e for e in htmx_errors if "responseError" in e or "oobErrorNoTarget" in e] == []
    assert [e for e in htmx_errors if "sendError" not in e and "afterRequest" not in e] == []


def _refusals_after_access_ended(
    browser: Any, base: str, world: World, htmx_errors: list[str]
) -> None:
    """The member's page is open when their roles are taken away: Launch in the open dialog
    shows the 404 refusal in the dialog, and Pin shows it beside the button and keeps the list
    (the pin form swaps the whole list, so an HTML error page would have replaced it)."""
    from playwright.sync_api import expect

    member = world.users["member"]
    roles = list(member.roles)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(_session_cookie(world, "member", base))
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on(
        "console",
        lambda m: htmx_errors.append(m.text) if m.type == "error" and "htmx" in m.text else None,
    )
    try:
        page.goto(f"{base}/")
        row = page.locator("tr", has_text=world.app_name)
        row.get_by_role("link", name="Launch").click()
        dialog = page.locator("#launch-dialog")
        expect(dialog.get_by_role("button", name="Open the AWS console")).to_be_visible()
        member.roles = []
        member.save(update_fields=["roles"])
        dialog.get_by_role("button", name="Open the AWS console").click()
        expect(dialog).to_contain_text("was not found, or you are not allowed to use it")
        dialog.get_by_role("button", name="Close").click()
        row.get_by_role("button", name="Pin").click()
        expect(row.get_by_role("alert")).to_contain_text(
            "was not found, or you are not allowed to use it"
        )
        expect(page.locator("#app-list")).to_contain_text(world.app_name)
    finally:
        member.roles = roles
        member.save(update_fields=["roles"])
        context.close()
