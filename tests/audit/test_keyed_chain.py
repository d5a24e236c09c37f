"""The keyed chain: a rewrite without the key, a truncated tail, rotation and checkpoints."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.audit.chain import GENESIS, audit_seal, audit_verify, event_hash, legacy_link_hash
from apps.audit.checkpoints import (
    CheckpointError,
    checkpoint_compare,
    checkpoint_create,
    checkpoint_load_last,
    checkpoint_parse,
    checkpoint_write,
)
from apps.audit.keys import AuditKeyError, audit_keyring, derived_key_id, parse_audit_keys
from apps.audit.models import AuditChainLink, AuditEvent
from apps.audit.services import audit_record

KEY_A = "a" * 40
KEY_B = "b" * 40


@pytest.fixture
def keyed(settings: Any, tmp_path: Path) -> Path:
    settings.ROLEGATE_AUDIT_KEY = f"ka:{KEY_A}"
    checkpoints = tmp_path / "checkpoints.jsonl"
    settings.ROLEGATE_AUDIT_CHECKPOINT_FILE = str(checkpoints)
    settings.ROLEGATE_AUDIT_CHECKPOINT_URL = ""
    return checkpoints


@pytest.fixture
def events(db: Any, keyed: Path) -> list[AuditEvent]:
    made = [
        audit_record(event_type="test.recorded", actor=None, target_name=f"t{i}") for i in range(30)
    ]
    assert audit_seal() == 30
    return made


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def _rewrite_without_key(from_event: AuditEvent) -> None:
    """What an attacker with SQL access but no key does: edit, then recompute SHA-256 links."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [from_event.id]
        )
    previous = GENESIS
    for link in AuditChainLink.objects.order_by("id"):
        event = AuditEvent.objects.get(id=link.event_id)
        digest = event_hash(event)
        # Both ways a keyless attacker can try: keep the key id or blank it (legacy format).
        for key_id in (link.key_id, ""):
            chain = hashlib.sha256(f"{previous}:{digest}".encode()).hexdigest()
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE audit_auditchainlink SET event_hash = %s, chain_hash = %s, key_id = %s "
                    "WHERE id = %s",
                    [digest, chain, key_id, link.id],
                )
        previous = chain


def test_links_are_keyed_and_name_their_key(events: list[AuditEvent]) -> None:
    links = list(AuditChainLink.objects.order_by("id"))
    assert {link.key_id for link in links} == {"ka"}
    # The plain SHA-256 of the old chain is not what is stored any more.
    assert links[0].chain_hash != legacy_link_hash(GENESIS, links[0].event_hash)
    assert audit_verify().ok


def test_a_rewrite_without_the_key_is_reported(events: list[AuditEvent]) -> None:
    """Today's finding: edit a row, recompute the links: the old verifier said 'intact'."""
    _rewrite_without_key(events[10])
    report = audit_verify()
    assert not report.ok
    assert report.links_checked == 1  # the very first recomputed link already fails
    with pytest.raises(CommandError, match="audit chain broken"):
        verify()


def test_a_truncated_tail_is_reported_against_the_checkpoint(
    events: list[AuditEvent], keyed: Path
) -> None:
    """Deleting the last 20 events and links leaves a valid, shorter chain: the checkpoint."""
    checkpoint_write()
    assert "matches the checkpoint" in verify()
    tail = [event.id for event in events[-20:]]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditchainlink WHERE event_id = ANY(%s)", [tail])
        cursor.execute("DELETE FROM audit_auditevent WHERE id = ANY(%s)", [tail])
    assert audit_verify().ok  # every remaining link is fine ...
    with pytest.raises(CommandError, match="events were removed from the tail"):
        verify("--no-seal")  # ... but the checkpoint remembers 30


def test_a_rebuilt_chain_is_reported_against_the_checkpoint(
    events: list[AuditEvent], keyed: Path
) -> None:
    """Even with the key, a chain rebuilt before the checkpoint no longer matches it."""
    checkpoint_write()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditchainlink")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[3].id])
    audit_seal()  # resealed with the key: every link valid again
    assert audit_verify().ok
    with pytest.raises(CommandError, match="checkpoint"):
        verify("--no-seal")


def test_a_forged_checkpoint_is_refused(events: list[AuditEvent], keyed: Path) -> None:
    checkpoint = checkpoint_write()
    forged = json.loads(checkpoint.to_json())
    forged["links"] = 5
    keyed.write_text(json.dumps(forged) + "\n")
    with pytest.raises(CommandError, match="signature does not match"):
        verify("--no-seal")


def test_checkpoints_go_to_the_log_and_the_file(
    events: list[AuditEvent], keyed: Path, caplog: Any
) -> None:
    with caplog.at_level("INFO", logger="rolegate.audit.checkpoint"):
        written = checkpoint_write()
    assert written.links == 30
    assert written.head_link_id == AuditChainLink.objects.order_by("-id").first().id  # type: ignore[union-attr]
    logged = [r.getMessage() for r in caplog.records if "audit checkpoint" in r.getMessage()]
    assert len(logged) == 1
    # A line copied from the log stream is a valid checkpoint file too.
    copied = keyed.parent / "from-log.jsonl"
    copied.write_text("2026-01-01 INFO rolegate.audit.checkpoint " + logged[0] + "\n")
    assert checkpoint_load_last(copied) == written
    assert checkpoint_load_last(keyed) == written
    assert oct(keyed.stat().st_mode & 0o777) == "0o600"


def test_checkpoints_go_to_an_http_sink(events: list[AuditEvent], settings: Any) -> None:
    received: list[bytes] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    settings.ROLEGATE_AUDIT_CHECKPOINT_URL = f"http://127.0.0.1:{server.server_port}/cp"
    written = checkpoint_write()
    thread.join(10)
    server.server_close()
    assert len(received) == 1
    assert checkpoint_parse(received[0].decode()) == written


def test_key_rotation_keeps_old_links_verifying(events: list[AuditEvent], settings: Any) -> None:
    settings.ROLEGATE_AUDIT_KEY = f"kb:{KEY_B},ka:{KEY_A}"
    audit_record(event_type="test.recorded", actor=None, target_name="after rotation")
    audit_seal()
    assert AuditChainLink.objects.order_by("-id").first().key_id == "kb"  # type: ignore[union-attr]
    assert audit_verify().ok
    # Dropping the old key makes its links unverifiable, and says which key is missing.
    settings.ROLEGATE_AUDIT_KEY = f"kb:{KEY_B}"
    report = audit_verify()
    assert not report.ok
    assert "'ka', which is not configured" in report.reason


def test_a_wrong_key_fails_verification(events: list[AuditEvent], settings: Any) -> None:
    settings.ROLEGATE_AUDIT_KEY = f"ka:{KEY_B}"
    report = audit_verify()
    assert (report.ok, report.links_checked) == (False, 1)


def test_an_unkeyed_chain_is_resealed_on_upgrade_and_refused_after(db: Any, keyed: Path) -> None:
    """Links sealed before the upgrade are verified and keyed by the migration's function."""
    from apps.audit.chain import reseal_legacy_links

    previous = GENESIS
    for _ in range(3):
        event = audit_record(event_type="test.recorded", actor=None)
        digest = event_hash(event)
        previous = legacy_link_hash(previous, digest)
        AuditChainLink.objects.create(event_id=event.id, event_hash=digest, chain_hash=previous)
    report = audit_verify()
    assert not report.ok
    assert "no key id" in report.reason
    assert reseal_legacy_links(AuditChainLink, AuditEvent) == (3, True)
    assert audit_verify().ok
    assert set(AuditChainLink.objects.values_list("key_id", flat=True)) == {"ka"}


def test_a_broken_unkeyed_chain_is_not_resealed(db: Any, keyed: Path) -> None:
    from apps.audit.chain import reseal_legacy_links

    event = audit_record(event_type="test.recorded", actor=None)
    AuditChainLink.objects.create(event_id=event.id, event_hash="0" * 64, chain_hash="1" * 64)
    assert reseal_legacy_links(AuditChainLink, AuditEvent) == (1, False)
    assert not audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_events_are_sealed_when_their_transaction_commits(settings: Any, tmp_path: Path) -> None:
    """No minute-long window: the event has its link as soon as the writer commits."""
    settings.ROLEGATE_AUDIT_KEY = f"ka:{KEY_A}"
    from django.db import transaction

    with transaction.atomic():
        event = audit_record(event_type="test.recorded", actor=None)
        assert not AuditChainLink.objects.filter(event_id=event.id).exists()
    assert AuditChainLink.objects.filter(event_id=event.id, key_id="ka").exists()
    outside = audit_record(event_type="test.recorded", actor=None)  # autocommit
    assert AuditChainLink.objects.filter(event_id=outside.id).exists()
    assert audit_verify().ok


def test_a_stuck_sealer_is_reported(db: Any, keyed: Path, caplog: Any) -> None:
    import time_machine

    with time_machine.travel("2026-01-01 00:00:00Z", tick=False):
        audit_record(event_type="test.recorded", actor=None)
    with caplog.at_level("ERROR", logger="rolegate.audit.checkpoint"):
        checkpoint_write()
    assert any("audit sealer is behind: 1 event(s)" in r.getMessage() for r in caplog.records)
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_verify", "--no-seal", "--no-checkpoint", stdout=out, stderr=err)
    assert "not sealed yet" in err.getvalue()


def test_key_configuration_errors_name_the_variable(settings: Any) -> None:
    with pytest.raises(AuditKeyError, match="ROLEGATE_AUDIT_KEY: key 'x' is shorter"):
        parse_audit_keys("x:short", "ROLEGATE_AUDIT_KEY")
    with pytest.raises(AuditKeyError, match="listed twice"):
        parse_audit_keys(f"a:{KEY_A},a:{KEY_B}", "ROLEGATE_AUDIT_KEY")
    ring = parse_audit_keys(KEY_A, "ROLEGATE_AUDIT_KEY")
    assert ring.signing_id == derived_key_id(KEY_A)
    assert KEY_A not in ring.signing_id
    settings.ROLEGATE_AUDIT_KEY = ""
    settings.ROLEGATE_AUDIT_KEY_FILE = "/nonexistent/audit-key"
    with pytest.raises(AuditKeyError, match="ROLEGATE_AUDIT_KEY_FILE '/nonexistent/audit-key'"):
        audit_keyring()


def test_checkpoint_of_an_empty_chain_matches(db: Any, keyed: Path) -> None:
    checkpoint = checkpoint_create()
    assert checkpoint.links == 0
    assert checkpoint_compare(audit_verify(), checkpoint) == ""
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        checkpoint_parse("{}")
