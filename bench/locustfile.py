"""Load scenario for Rolegate: the Resources page, console Launch and CLI credentials.

Run it through `bench/run_load.py`, which builds the guide's scenario (sandbox AWS, integration,
role, users with sessions and API tokens) and passes it here in the environment:

- `ROLEGATE_LOAD_PEOPLE`: a JSON file, one {"session": ..., "csrf": ..., "token": ...} per user
- `ROLEGATE_LOAD_APP`, `ROLEGATE_LOAD_ROLE_ARN`: the app and IAM role every issuance asks for
- `ROLEGATE_LOAD_SIGNIN_URL`: where a Launch must redirect (the sandbox's federation endpoint)
- `ROLEGATE_LOAD_MIN_ROWS`: how many app rows the first Resources page must list (a full page
  over the 10,000-app catalog)

Each simulated user is one portal user (signed in already, so no password hashing in the
measurement) who browses the Resources page most of the time and now and then launches the
console or fetches CLI credentials, the way `rolegate aws credentials` does.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

_PEOPLE: list[dict[str, str]] = json.loads(Path(os.environ["ROLEGATE_LOAD_PEOPLE"]).read_text())
_NEXT = itertools.cycle(range(len(_PEOPLE)))
_NEXT_LOCK = threading.Lock()
APP = os.environ["ROLEGATE_LOAD_APP"]
ROLE_ARN = os.environ["ROLEGATE_LOAD_ROLE_ARN"]
SIGNIN_URL = os.environ["ROLEGATE_LOAD_SIGNIN_URL"]
MIN_ROWS = int(os.environ.get("ROLEGATE_LOAD_MIN_ROWS", "1"))
LAUNCH_LINK = 'href="/apps/'


class PortalUser(HttpUser):
    """A signed-in user of the guide's role: browse, sometimes launch or fetch credentials."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        """Take the next prepared identity (session cookie, CSRF token, API token)."""
        with _NEXT_LOCK:
            person = _PEOPLE[next(_NEXT)]
        self.token = person["token"]
        self.csrf = person["csrf"]
        self.client.cookies.set("sessionid", person["session"])
        self.client.cookies.set("csrftoken", person["csrf"])

    @task(3)
    def resources_page(self) -> None:
        """GET / — the first page of the user's apps (pins and recent launches first)."""
        with self.client.get("/", name="GET / (resources)", catch_response=True) as response:
            rows = response.text.count(LAUNCH_LINK)
            if response.status_code != 200 or rows < MIN_ROWS:
                response.failure(f"status {response.status_code}, {rows} app rows listed")

    @task(2)
    def search(self) -> None:
        """GET /?q=APP — a search over the whole catalog that must find the guide's app."""
        with self.client.get(
            "/", params={"q": APP}, name="GET /?q= (search)", catch_response=True
        ) as response:
            if response.status_code != 200 or f'href="/apps/{APP}/' not in response.text:
                response.failure(
                    f"status {response.status_code}, app listed: {APP in response.text}"
                )

    @task(2)
    def launch(self) -> None:
        """POST /apps/APP/launch — must answer 302 to the partition's sign-in URL."""
        with self.client.post(
            f"/apps/{APP}/launch",
            data={"role": ROLE_ARN},
            headers={"X-CSRFToken": self.csrf, "Referer": f"{self.host}/"},
            allow_redirects=False,
            name="POST /apps/[app]/launch",
            catch_response=True,
        ) as response:
            location = response.headers.get("Location", "")
            if response.status_code != 302 or not location.startswith(SIGNIN_URL):
                response.failure(f"status {response.status_code}: {response.text[:200]}")

    @task(3)
    def cli_credentials(self) -> None:
        """POST /api/v1/apps/APP/credentials — what credential_process calls on a cache miss."""
        with self.client.post(
            f"/api/v1/apps/{APP}/credentials",
            json={"role_arn": ROLE_ARN},
            headers={"Authorization": f"Bearer {self.token}"},
            name="POST /api/v1/apps/[app]/credentials",
            catch_response=True,
        ) as response:
            body: dict[str, Any] = {}
            with contextlib.suppress(ValueError):
                body = response.json()
            if response.status_code != 200 or not body.get("AccessKeyId"):
                response.failure(f"status {response.status_code}: {response.text[:200]}")
