"""Audit fails closed, and audit rows are append-only for the application's database role.

A PostgreSQL trigger makes every insert into `audit_auditevent` fail, as a full disk or a
revoked grant would. Then neither the web Launch nor the CLI API hands out a console URL or
credentials: both answer 503 with a message naming the audit log, and the sandbox records no
new Roles Anywhere session. The README's grant statements are applied to a throw-away role to
show that it may insert audit rows but not update, delete or truncate them.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import Client

from apps.audit.models import AuditChainLink, AuditEvent
from apps.authority.models import LeafCertificate
from apps.resources.models_user import AppUserState
from tests.security.conftest import World, body_of

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def _refuse_all_audit_inserts() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION security_refuse_audit() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'audit storage unavailable (test trigger)';
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER security_refuse_audit BEFORE INSERT ON audit_auditevent
              FOR EACH ROW EXECUTE FUNCTION security_refuse_audit();
            """
        )


def _allow_audit_inserts() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER security_refuse_audit ON audit_auditevent")


def _sessions(world: World) -> int:
    # The emulator records the subject of every CreateSession it answered successfully.
    return len(world.scenario.sandbox.state.subjects)


def _bearer(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.api_token('member')}"}


def test_web_launch_answers_503_and_issues_nothing(world: World) -> None:
    """POST Launch (plain and htmx): 503, the audit message, no redirect, no session."""
    client = world.client("member")
    sessions, events = _sessions(world), AuditEvent.objects.count()
    _refuse_all_audit_inserts()

    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(
            f"/apps/{world.app_name}/launch", {"role": world.role_arn}, headers=headers
        )
        assert response.status_code == 503
        body = body_of(response)
        assert "could not record this request in its audit log" in body
        assert "Location" not in response and "HX-Redirect" not in response
        assert "federation" not in body and "SigninToken" not in body

    assert _sessions(world) == sessions
    assert AuditEvent.objects.count() == events
    assert not AppUserState.objects.filter(last_launched_at__isnull=False).exists()


def test_api_credentials_answer_503_and_issue_nothing(world: World) -> None:
    """POST /api/v1/apps/{name}/credentials: 503 `audit_unavailable`, no keys in the body."""
    headers = _bearer(world)  # the token's own audit event is written before the trigger
    sessions = _sessions(world)
    _refuse_all_audit_inserts()

    response = Client().post(
        f"/api/v1/apps/{world.app_name}/credentials",
        {"role_arn": world.role_arn},
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 503
    payload = response.json()
    assert payload["code"] == "audit_unavailable"
    assert "audit log" in payload["detail"]
    assert not {"AccessKeyId", "SecretAccessKey", "SessionToken"} & set(payload)
    assert _sessions(world) == sessions


def test_issuance_works_again_once_audit_recovers(world: World) -> None:
    """Fail closed is not fail forever: without the trigger the same calls succeed, audited."""
    headers = _bearer(world)
    _refuse_all_audit_inserts()
    refused = Client().post(
        f"/api/v1/apps/{world.app_name}/credentials",
        {"role_arn": world.role_arn},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 503
    _allow_audit_inserts()

    response = Client().post(
        f"/api/v1/apps/{world.app_name}/credentials",
        {"role_arn": world.role_arn},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json()["AccessKeyId"]
    issued = AuditEvent.objects.filter(event_type="aws_credentials.issued", outcome="success")
    assert issued.count() == 1
    # The leaf of the refused attempt was recorded but its key never left the process; the
    # success event names the serial of the leaf that was really exchanged.
    serial = issued.get().details["certificate_serial"]
    assert LeafCertificate.objects.filter(serial_hex=serial).exists()


# --- append-only grants -------------------------------------------------------------------------


def readme_grants() -> list[str]:
    """The SQL statements of the README's "Audit log integrity" section."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- audit-grants:begin -->\s*```sql\n(.*?)```", text, re.DOTALL)
    assert found, "README.md lost its audit-grants block"
    return [line.strip() for line in found.group(1).split(";") if line.strip()]


def _as_role(role: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """Run one statement as `role` inside a savepoint; return the rows or raise."""
    # A failed statement rolls the savepoint back, which also undoes SET LOCAL ROLE.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else None
        cursor.execute("RESET ROLE")
        return rows


@pytest.fixture
def app_role(db: Any) -> str:
    """A throw-away NOLOGIN role holding exactly the README's grants (gone with the test's
    transaction, as CREATE ROLE is transactional in PostgreSQL)."""
    role = f"rolegate_app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
        for statement in readme_grants():
            cursor.execute(statement.replace("rolegate_app", f'"{role}"'))
    return role


def test_readme_grants_make_audit_rows_append_only(app_role: str) -> None:
    """The application's role may insert and read audit rows, never change or remove them."""
    from apps.audit.services import audit_record

    audit_record(event_type="test.seed", actor=None, target_kind="test", target_name="seed")
    seed = AuditEvent.objects.latest("id")
    AuditChainLink.objects.create(event_id=seed.id, event_hash="0" * 64, chain_hash="1" * 64)

    inserted = _as_role(
        app_role,
        "INSERT INTO audit_auditevent (time, event_type, outcome, actor_name, target_kind, "
        "target_name, user_agent, request_id, details) VALUES "
        "(now(), 'test.insert', 'success', 'app', '', '', '', '', '{}') RETURNING id",
    )
    assert inserted and inserted[0][0] > seed.id
    assert _as_role(app_role, "SELECT count(*) FROM audit_auditevent")[0][0] >= 2
    _as_role(
        app_role,
        "INSERT INTO audit_auditchainlink (event_id, event_hash, chain_hash, sealed_at, key_id) "
        "VALUES (%s, %s, %s, now(), %s)",
        (inserted[0][0], "2" * 64, "3" * 64, "k1"),
    )

    refused = [
        "UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
        "UPDATE audit_auditchainlink SET chain_hash = 'x' WHERE event_id = %s",
        "DELETE FROM audit_auditchainlink WHERE event_id = %s",
    ]
    for sql in refused:
        with pytest.raises(ProgrammingError, match="permission denied"):
            _as_role(app_role, sql, (seed.id,))
    for table in ("audit_auditevent", "audit_auditchainlink"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            _as_role(app_role, f"TRUNCATE {table}")
    # Other tables stay writable for the same role (the grants are not simply read-only).
    _as_role(app_role, "UPDATE accounts_user SET last_login = last_login WHERE id = -1")
    assert AuditEvent.objects.filter(id=seed.id, outcome="success").exists()


def test_the_chain_is_sealed_and_verified(world: World) -> None:
    """`manage.py audit_verify` seals the events of a launch and reports the chain intact."""
    from io import StringIO

    from django.core.management import call_command

    response = world.client("member").post(
        f"/apps/{world.app_name}/launch", {"role": world.role_arn}
    )
    assert response.status_code == 302
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain intact" in out.getvalue()
    assert AuditChainLink.objects.count() == AuditEvent.objects.count()
