"""Security suite fixtures: hypothesis budgets, the personas' world, and response checks.

Hypothesis budgets: every hostile-input test asks for `examples(n)` where `n` is its share of
the default run (what `make test` and CI run; the shares add up to at least 5,000 cases).
`HYPOTHESIS_PROFILE=ci` triples them (nightly), `HYPOTHESIS_PROFILE=dev` runs a tenth for quick
local loops. The profiles have their own names so they never clash with tests/access's.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, settings

from tests.resources.conftest import LaunchScenario, launch_scenario  # noqa: F401 - fixture

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "security-default", deadline=None, derandomize=True, suppress_health_check=_SUPPRESSED
)
settings.register_profile("security-ci", deadline=None, suppress_health_check=_SUPPRESSED)
settings.register_profile("security-dev", deadline=None, suppress_health_check=_SUPPRESSED)

_MODE = os.environ.get("HYPOTHESIS_PROFILE", "")
PROFILE = {"ci": "security-ci", "dev": "security-dev"}.get(_MODE, "security-default")
_SCALE = {"security-ci": 3.0, "security-dev": 0.1}.get(PROFILE, 1.0)


def examples(default_count: int) -> settings:
    """Hypothesis settings running `default_count` cases in the default profile (scaled)."""
    return settings(
        settings.get_profile(PROFILE), max_examples=max(10, int(default_count * _SCALE))
    )


# --- the world the matrix and the hostile tests act in ----------------------------------------

OTHER_ROLE = "other-team"
REVIEWER_ROLE = "example-reviewer"
PERSONAS = (
    "anonymous",
    "user",
    "member",
    "other",
    "reviewer",
    "staff",
    "bare_staff",
    "auditor",
    "access_admin",
    "integration_admin",
)


@dataclass
class World:
    """The guide's scenario plus the personas of the URL matrix.

    anonymous; `user` (bob, no roles); `member` (alice, holds the access role of the app);
    `other` (carol, holds a role for another team's apps that may request the access role);
    `reviewer` (rita, may review requests for `example-*` roles); `staff` (an operator with every
    staff capability, as the upgrade maps existing staff); `bare_staff` (is_staff, no capability);
    `auditor`, `access_admin`, `integration_admin` (staff with that one capability's group).
    """

    scenario: Any
    users: dict[str, Any]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def app_name(self) -> str:
        """The guide's app."""
        return str(self.scenario.app.name)

    @property
    def role_arn(self) -> str:
        """The IAM role the member may assume on the app."""
        return str(self.scenario.role_arn)

    def client(self, persona: str, *, csrf: bool = False) -> Client:
        """A test client signed in as `persona` that never raises the view's exceptions."""
        client = Client(enforce_csrf_checks=csrf, raise_request_exception=False)
        if persona != "anonymous":
            client.force_login(self.users[persona])
        return client

    def access_request(self, *, approved: bool = False) -> Any:
        """A fresh request by `other` for the access role (approved by the reviewer if asked)."""
        from apps.access.requests.services import access_request_create, access_request_review
        from tests.resources.conftest import ACCESS_ROLE

        created = access_request_create(
            actor=self.users["other"], roles=[ACCESS_ROLE], reason="matrix", duration="1h"
        )
        if approved:
            access_request_review(
                actor=self.users["reviewer"], request_id=created.pk, decision="approve"
            )
        return created

    def api_token(self, persona: str) -> str:
        """A fresh bearer token of `persona`."""
        from apps.api.services import token_create

        user = self.users[persona]
        return token_create(actor=user, user=user, method="password", client_name="t").plaintext


@pytest.fixture
def world(launch_scenario: LaunchScenario, make_user: Any) -> World:  # noqa: F811
    """Build the personas around the guide's scenario (alice and bob come from it)."""
    from apps.access.services import role_create
    from tests.resources.conftest import ACCESS_ROLE

    role_create(
        actor=None,
        name=OTHER_ROLE,
        spec={
            "allow": {
                "app_labels": {"rolegate.dev/integration": "aws-other"},
                "aws_role_arns": ["arn:aws:iam::210987654321:role/Other"],
                "request": {"roles": [ACCESS_ROLE]},
            }
        },
    )
    role_create(
        actor=None,
        name=REVIEWER_ROLE,
        spec={"allow": {"review_requests": {"roles": ["example-*"]}}},
    )
    users = {
        "user": launch_scenario.bob,
        "member": launch_scenario.alice,
        "other": make_user("carol", roles=[OTHER_ROLE], email="carol@example.test"),
        "reviewer": make_user("rita", roles=[REVIEWER_ROLE], email="rita@example.test"),
        "staff": make_user("operator", is_staff=True, email="ops@example.test"),
        "bare_staff": make_user("bare", is_staff=True, groups=[]),
        "auditor": make_user("audrey", is_staff=True, groups=["auditor"]),
        "access_admin": make_user("adam", is_staff=True, groups=["access admin"]),
        "integration_admin": make_user("ingrid", is_staff=True, groups=["integration admin"]),
    }
    return World(scenario=launch_scenario, users=users)


# --- response checks -----------------------------------------------------------------------------

# Tables whose rows are written on purpose for refused requests (audit of refusals, session
# drafts and messages), so they are left out of the "nothing partially written" comparison.
_EXPECTED_WRITERS = {"audit_auditevent", "audit_auditchainlink", "django_session"}


def row_counts() -> dict[str, int]:
    """Row count of every model table (one query), except the tables refusals write to."""
    tables = sorted(
        {
            model._meta.db_table
            for model in django_apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }
        - _EXPECTED_WRITERS
    )
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT '{table}', COUNT(*) FROM {quote(table)}"  # noqa: S608 - names from models
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {name: int(count) for name, count in cursor.fetchall()}


_HTML_SPECIAL = re.compile(r"[<>\"']")
_TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', 'File "<')


def body_of(response: Any) -> str:
    """The response body as text (streaming bodies joined)."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return bytes(response.content).decode(errors="replace")


def is_local_location(location: str) -> bool:
    """True for a same-site path that no browser can turn into another host."""
    if not location.startswith("/") or location.startswith(("//", "/\\")):
        return False
    return "\\" not in location and not any(ord(char) < 32 for char in location)


def check_response(
    response: Any,
    *,
    payloads: list[str],
    allowed_redirect_prefixes: tuple[str, ...] = (),
) -> str:
    """Assert the hostile-input invariants on one response; return its body.

    No 5xx except a deliberate 503, no stack trace, no hostile payload reflected unescaped in
    HTML, and redirects (Location or HX-Redirect) only to this site or to an allowed prefix.
    """
    assert response.status_code != 500, f"HTTP 500 for payloads {payloads!r}"
    assert response.status_code < 500 or response.status_code in (502, 503), response.status_code
    body = body_of(response)
    for marker in _TRACE_MARKERS:
        assert marker not in body, f"stack trace in the response for {payloads!r}"
    content_type = response.get("Content-Type", "")
    if "html" in content_type:
        for payload in payloads:
            if _HTML_SPECIAL.search(payload) and len(payload) >= 3:
                assert payload not in body, f"payload reflected unescaped: {payload!r}"
    for header in ("Location", "HX-Redirect"):
        target = response.get(header)
        if target is None:
            continue
        assert is_local_location(target) or target.startswith(allowed_redirect_prefixes), (
            f"off-site redirect to {target!r} for {payloads!r}"
        )
    return body


def new_uuid() -> str:
    """A random UUID string (for routes taking one)."""
    return str(uuid.uuid4())


Factory = Callable[[World], str]
