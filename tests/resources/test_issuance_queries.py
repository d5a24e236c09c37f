"""One decision per request: Launch POST and API issuance each run at most 10 SQL statements.

Counted over real HTTP to the sandbox (CreateSession, getSigninToken), with the audit chain
sealed as in production (after the response, when the test client closes it: counted too).
The listed statements also show the shape: one SELECT of the app, one of the grants, one of
the roles, the leaf row and the intent in one transaction, the outcome and the user's last
launch (`INSERT ... ON CONFLICT`) in another.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.resources.models_user import AppUserState
from tests.api.conftest import token_for  # noqa: F401 - fixture
from tests.resources.conftest import LaunchScenario

pytestmark = pytest.mark.django_db(transaction=True)

MAX_QUERIES = 10


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def _transactions(statements: list[str]) -> tuple[list[str], list[list[str]]]:
    """Split into statements outside any transaction and the statements of each transaction."""
    loose: list[str] = []
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for sql in statements:
        if sql == "BEGIN":
            current = []
        elif sql in ("COMMIT", "ROLLBACK"):
            assert current is not None
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(sql)
        else:
            loose.append(sql)
    assert current is None
    return loose, blocks


def _shape(statements: list[str]) -> int:
    """Check the issuance's shape; return its statement count (the chain seal apart)."""
    joined = "\n".join(statements)
    loose, blocks = _transactions(statements)
    seals = [block for block in blocks if any("audit_auditseallock" in sql for sql in block)]
    own = [block for block in blocks if block not in seals]
    # The audit chain appends the issuance's two events (intent and outcome) in one seal.
    assert len(seals) == 1, joined
    assert len([sql for sql in seals[0] if sql.startswith('INSERT INTO "audit_auditchainlink"')])
    # Rolegate's own rows: the leaf and the intent together, then the outcome and the last launch.
    assert len(own) == 2, joined
    first, second = own
    assert [sql.split(" (")[0] for sql in first] == [
        'INSERT INTO "authority_leafcertificate"',
        'INSERT INTO "audit_auditevent"',
    ], joined
    assert second[0].startswith('INSERT INTO "audit_auditevent"'), joined
    assert second[1].startswith('INSERT INTO "resources_appuserstate"'), joined
    assert "ON CONFLICT" in second[1] and len(second) == 2, joined
    # One read of the app (no ORDER BY for a single row), of the grants and of the roles.
    app_reads = [sql for sql in loose if 'FROM "resources_awsapp"' in sql]
    assert len(app_reads) == 1 and "ORDER BY" not in app_reads[0], joined
    assert len([sql for sql in loose if 'FROM "access_role"' in sql]) == 1, joined
    assert len([sql for sql in loose if 'FROM "access_accessgrant"' in sql]) == 1, joined
    count = len(loose) + len(first) + len(second)
    assert count <= MAX_QUERIES, joined
    return count


def _warm(client: Client, scenario: LaunchScenario) -> None:
    # The first request of a session writes the session; the first issuance creates nothing
    # else either, but it warms the process caches (CA hint, compiled roles) like a server.
    client.get("/")


def test_launch_post_runs_at_most_ten_queries(launch_scenario: LaunchScenario) -> None:
    scenario = launch_scenario
    client = Client()
    client.force_login(scenario.alice)
    _warm(client, scenario)
    url = f"/apps/{scenario.app.name}/launch"
    assert client.post(url, {"role": scenario.role_arn}).status_code == 302
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, {"role": scenario.role_arn})
    assert response.status_code == 302
    _shape(_statements(captured))
    assert AppUserState.objects.get(user=scenario.alice).last_launched_at is not None
    issued = AuditEvent.objects.filter(event_type="aws_credentials.issued", outcome="success")
    assert issued.count() == 2


def test_api_issuance_runs_at_most_ten_queries(
    launch_scenario: LaunchScenario,
    token_for: Any,  # noqa: F811 - the fixture imported above
) -> None:
    scenario = launch_scenario
    api = token_for(scenario.alice)
    path = f"/apps/{scenario.app.name}/credentials"
    assert api.post(path, {"role_arn": scenario.role_arn}).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = api.post(path, {"role_arn": scenario.role_arn})
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["Version"] == 1
    statements = _statements(captured)
    _shape(statements)
    # The bearer token is read once, by its unique prefix: no ORDER BY to compile.
    token_reads = [sql for sql in statements if 'FROM "api_apitoken"' in sql]
    assert len(token_reads) == 1 and "ORDER BY" not in token_reads[0], token_reads


def _add_other_apps(scenario: LaunchScenario, count: int) -> None:
    """`count` more apps in the guide's integration, reachable by the same role's labels."""
    from apps.resources.models import AwsApp

    base = scenario.app
    AwsApp.objects.bulk_create(
        [
            AwsApp(
                name=f"other-{n:04d}",
                integration=base.integration,
                profile_arn=f"{base.profile_arn[:-12]}{n:012d}",
                profile_name=f"Other{n:04d}",
                labels=base.labels,
                account_id=base.account_id,
                region=base.region,
                partition=base.partition,
                role_arns=base.role_arns,
                console_url=base.console_url,
                last_confirmed_at=base.last_confirmed_at,
            )
            for n in range(count)
        ]
    )


def test_issuance_statements_do_not_grow_with_the_catalog(
    launch_scenario: LaunchScenario,
    token_for: Any,  # noqa: F811 - the fixture imported above
) -> None:
    scenario = launch_scenario
    client = Client()
    client.force_login(scenario.alice)
    _warm(client, scenario)
    api = token_for(scenario.alice)
    launch = f"/apps/{scenario.app.name}/launch"
    credentials = f"/apps/{scenario.app.name}/credentials"

    def counts() -> tuple[int, int]:
        # One issuance of each kind warms the process after a catalog change; the next is measured.
        assert client.post(launch, {"role": scenario.role_arn}).status_code == 302
        assert api.post(credentials, {"role_arn": scenario.role_arn}).status_code == 200
        with CaptureQueriesContext(connection) as web:
            assert client.post(launch, {"role": scenario.role_arn}).status_code == 302
        with CaptureQueriesContext(connection) as cli:
            assert api.post(credentials, {"role_arn": scenario.role_arn}).status_code == 200
        return _shape(_statements(web)), _shape(_statements(cli))

    small = counts()
    _add_other_apps(scenario, 400)
    large = counts()
    assert small == large
