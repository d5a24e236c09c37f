"""The hash chain over audit events: sealing and verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditChainLink, AuditEvent, AuditSealLock

GENESIS = "0" * 64
HASHED_FIELDS = (
    "id",
    "time",
    "event_type",
    "outcome",
    "actor_id",
    "actor_name",
    "target_kind",
    "target_name",
    "client_ip",
    "user_agent",
    "request_id",
    "details",
)
SEAL_BATCH = 2000


def event_hash(event: AuditEvent) -> str:
    """SHA-256 of the event's canonical JSON."""
    record = {name: getattr(event, name) for name in HASHED_FIELDS}
    record["time"] = event.time.astimezone(dt.UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(record, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def link_hash(previous: str, event_digest: str) -> str:
    """The chain hash of a link from the previous link's hash and the event's hash."""
    return hashlib.sha256(f"{previous}:{event_digest}".encode()).hexdigest()


def audit_seal(*, settle_seconds: int = 0) -> int:
    """Append links for events not yet in the chain; return how many were sealed.

    ``settle_seconds`` leaves very recent events for the next run so that a transaction still
    in flight is not skipped over (it would only be sealed later, which is also fine).
    """
    sealed = 0
    with transaction.atomic():
        lock, _ = AuditSealLock.objects.get_or_create(name="audit-chain")
        AuditSealLock.objects.select_for_update().get(pk=lock.pk)
        last = AuditChainLink.objects.order_by("-id").first()
        previous = last.chain_hash if last else GENESIS
        cutoff = timezone.now() - dt.timedelta(seconds=settle_seconds)
        sealed_ids = AuditChainLink.objects.values("event_id")
        pending = (
            AuditEvent.objects.exclude(id__in=sealed_ids)
            .filter(time__lte=cutoff)
            .order_by("id")[:SEAL_BATCH]
        )
        links = []
        for event in pending:
            digest = event_hash(event)
            previous = link_hash(previous, digest)
            links.append(AuditChainLink(event_id=event.id, event_hash=digest, chain_hash=previous))
        AuditChainLink.objects.bulk_create(links)
        sealed = len(links)
    return sealed


@dataclass(frozen=True)
class ChainReport:
    """Result of verifying the chain."""

    links_checked: int
    ok: bool
    broken_link_id: int | None = None
    event_id: int | None = None
    reason: str = ""


def audit_verify() -> ChainReport:
    """Walk the chain in link order and report the first broken link."""
    previous = GENESIS
    checked = 0
    links = AuditChainLink.objects.order_by("id").iterator(chunk_size=2000)
    for link in links:
        checked += 1
        if link_hash(previous, link.event_hash) != link.chain_hash:
            return ChainReport(
                checked,
                False,
                link.id,
                link.event_id,
                "the link does not follow from the previous one (a link was removed or altered)",
            )
        event = AuditEvent.objects.filter(id=link.event_id).first()
        if event is None:
            return ChainReport(checked, False, link.id, link.event_id, "the event was deleted")
        if event_hash(event) != link.event_hash:
            return ChainReport(checked, False, link.id, link.event_id, "the event was modified")
        previous = link.chain_hash
    return ChainReport(checked, True)
