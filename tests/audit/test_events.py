"""The audit vocabulary: constants in one module, one tense, a target on every event."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

ROOT = Path(__file__).resolve().parents[2]


def test_every_type_is_noun_dot_verb_in_the_past() -> None:
    names = events.all_event_types()
    assert len(names) >= 40
    for name in names:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", name), name
        verb = name.split(".", 1)[1].split("_")
        assert any(word.endswith("ed") or word == "set" for word in verb), name
    for old, new in events.LEGACY_NAMES.items():
        assert new in names and old not in names, old


def _audit_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in (ROOT / "apps").rglob("*.py"):
        if "migrations" in path.parts or path.name == "events.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "audit_record":
                calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return calls


def test_every_audit_write_uses_a_constant_and_names_its_target() -> None:
    calls = _audit_calls()
    assert len(calls) > 30
    problems = []
    for where, call in calls:
        keywords = {keyword.arg: keyword.value for keyword in call.keywords}
        kind = keywords.get("event_type")
        if kind is None or isinstance(kind, ast.Constant | ast.JoinedStr):
            problems.append(f"{where}: event_type is not a constant from apps.audit.events")
        for field in ("target_kind", "target_name"):
            value = keywords.get(field)
            if value is None or (isinstance(value, ast.Constant) and not value.value):
                problems.append(f"{where}: no {field}")
    assert problems == []


def test_the_readme_lists_every_event_type() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in events.all_event_types() if f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.django_db
def test_old_rows_read_under_their_current_name(make_user: Any) -> None:
    """Rows written before the rename keep their stored type (the chain hashes it)."""
    staff = make_user("operator", is_staff=True)
    audit_record(event_type="user.login", actor=None, target_kind="user", target_name="old-bob")
    audit_record(
        event_type=events.USER_SIGNED_IN, actor=None, target_kind="user", target_name="new-bob"
    )
    from django.test import Client

    client = Client()
    client.force_login(staff)
    page = client.get("/audit/", {"event_type": events.USER_SIGNED_IN}).content.decode()
    assert "old-bob" in page and "new-bob" in page
    assert "<code>user.login</code>" not in page
    export = client.get("/audit/export.jsonl", {"event_type": "user."})
    lines = b"".join(export.streaming_content).decode().splitlines()
    old = next(line for line in lines if "old-bob" in line)
    assert '"event_type": "user.signed_in"' in old and '"stored_event_type": "user.login"' in old
    assert AuditEvent.objects.filter(event_type="user.login").count() == 1
