"""The one place that writes audit events."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction

from apps.audit.chain import seal_after_commit
from apps.audit.models import AuditEvent
from apps.core.context import current_context
from apps.core.identity import Actor, SystemActor
from apps.core.metrics import AUDIT_WRITE_FAILURES

SYSTEM_ACTOR = "system"


def _actor_fields(actor: Actor, actor_name: str | None) -> tuple[int | None, str]:
    if isinstance(actor, SystemActor):
        return None, actor_name or actor.name
    if actor is None or not actor.is_authenticated:
        return None, actor_name or SYSTEM_ACTOR
    return int(actor.pk), actor_name or str(actor.get_username())


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: object) -> Any:
    """`value` with every NUL and lone surrogate written as a `\\uXXXX` escape, recursively.

    PostgreSQL's text and JSON columns reject NUL, and a lone surrogate cannot be encoded to
    UTF-8: either in a refused request's details would make its audit row unwritable. Escaped,
    the row is written and still shows exactly what was sent.
    """
    if isinstance(value, str):
        return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def audit_record(
    *,
    event_type: str,
    actor: Actor,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    target_kind: str = "",
    target_name: str = "",
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
    seal: bool = True,
) -> AuditEvent:
    """Write one audit event; call it inside the transaction of the change it records.

    ``seal=False`` leaves sealing to the caller, which seals several events of one operation
    in one chain append (`seal_after_commit(*ids)`), or to the beat sweep.

    If the write fails the exception propagates, so the surrounding change (or the credential
    issuance) fails with it: an action that cannot be audited does not happen.
    """
    if outcome not in AuditEvent.Outcome.values:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    actor_id, name = _actor_fields(actor, actor_name)
    context = current_context()
    # Round-trip through JSON so datetimes and the like are stored as text, never as objects.
    safe_details = storable(json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder)))
    try:
        event = AuditEvent.objects.create(
            event_type=event_type,
            outcome=outcome,
            actor_id=actor_id,
            actor_name=storable(name)[:200],
            target_kind=storable(target_kind)[:64],
            target_name=storable(target_name)[:300],
            client_ip=context.client_ip,
            user_agent=storable(context.user_agent),
            request_id=context.request_id,
            details=safe_details,
        )
    except DatabaseError:
        # The action fails with it (fail closed); operators see the rate on /metrics.
        AUDIT_WRITE_FAILURES.inc()
        raise
    from apps.core.hooks import audit_event_listeners

    for listener in audit_event_listeners:
        listener(event)
    if seal and getattr(settings, "ROLEGATE_AUDIT_SEAL_ON_COMMIT", True):
        # Sealed once the event is committed (in a web request, once its response is sent),
        # outside the writer's transaction so that the chain lock is never held across a slow
        # change (CreateSession, say).
        transaction.on_commit(functools.partial(seal_after_commit, event.id))
    return event
