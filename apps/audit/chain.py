"""The keyed hash chain over audit events: sealing and verification.

Each link is ``HMAC-SHA256(key, key_id:previous_link:event_hash)`` with a key that lives outside
the database (apps/audit/keys.py) and whose id the link records. Someone who can write to the
database but does not hold the key cannot recompute links after editing, deleting or inserting
an event. Cutting events off the tail leaves a shorter chain that is still valid, which is what
the checkpoints (apps/audit/checkpoints.py) are for.

Events are sealed once the transaction that wrote them commits (``audit_record`` registers the
seal): at once outside a web request, and inside one right after its response has been handed to
the client (when the server closes the response; apps/audit/middleware.py), so a request's
latency does not include the chain lock and append. A beat task seals anything left over (a
worker killed before it closed the response, a failed seal); ``unsealed_backlog`` tells how far
behind sealing is so a stuck sealer is reported rather than silent.

Chains sealed before keys existed (plain SHA-256 links, empty ``key_id``) are verified and
resealed with the key by migration ``audit.0004``; after that an unkeyed link is always refused,
so rewriting the chain in the old, keyless format does not pass either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from apps.audit.keys import AuditKeyring, audit_keyring
from apps.audit.models import AuditChainLink, AuditEvent, AuditSealLock

log = logging.getLogger(__name__)

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
VERIFY_CHUNK = 2000


def event_hash(event: AuditEvent) -> str:
    """SHA-256 of the event's canonical JSON."""
    record = {name: getattr(event, name) for name in HASHED_FIELDS}
    record["time"] = event.time.astimezone(dt.UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(record, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def legacy_link_hash(previous: str, event_digest: str) -> str:
    """The unkeyed link of chains sealed before audit keys existed."""
    return hashlib.sha256(f"{previous}:{event_digest}".encode()).hexdigest()


def link_hash(previous: str, event_digest: str, *, key_id: str, key: bytes) -> str:
    """The keyed chain hash of a link from the previous link's hash and the event's hash."""
    message = f"{key_id}:{previous}:{event_digest}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _seal(pending: Iterable[AuditEvent], previous: str, keyring: AuditKeyring) -> int:
    links = []
    key_id, key = keyring.signing_id, keyring.signing_key
    for event in pending:
        digest = event_hash(event)
        previous = link_hash(previous, digest, key_id=key_id, key=key)
        links.append(
            AuditChainLink(event_id=event.id, event_hash=digest, chain_hash=previous, key_id=key_id)
        )
    AuditChainLink.objects.bulk_create(links)
    return len(links)


def audit_seal(*, settle_seconds: int = 0, event_ids: list[int] | None = None) -> int:
    """Append links for events not yet in the chain; return how many were sealed.

    With ``event_ids`` only those events are considered (the after-commit seal of the events a
    transaction wrote: constant work however long the log is); without, every unsealed event
    (the beat task's sweep). ``settle_seconds`` leaves very recent events to the next sweep.
    """
    keyring = audit_keyring()  # before taking the lock: a missing key fails fast
    with transaction.atomic():
        # One statement takes the lock once its row exists (every seal after the first).
        if not AuditSealLock.objects.select_for_update().filter(name="audit-chain").exists():
            lock, _ = AuditSealLock.objects.get_or_create(name="audit-chain")
            AuditSealLock.objects.select_for_update().get(pk=lock.pk)
        last = AuditChainLink.objects.order_by("-id").first()
        previous = last.chain_hash if last else GENESIS
        if event_ids is not None:
            wanted = set(event_ids)
            pending = (
                AuditEvent.objects.filter(id__in=wanted)
                .exclude(
                    id__in=AuditChainLink.objects.filter(event_id__in=wanted).values("event_id")
                )
                .order_by("id")
            )
        else:
            cutoff = timezone.now() - dt.timedelta(seconds=settle_seconds)
            pending = (
                AuditEvent.objects.exclude(id__in=AuditChainLink.objects.values("event_id"))
                .filter(time__lte=cutoff)
                .order_by("id")[:SEAL_BATCH]
            )
        return _seal(pending, previous, keyring)


# The events the current web request committed, to seal once its response is out (None: not in
# a request). Set and reset by `SealAfterResponseMiddleware` (apps/audit/middleware.py).
after_response: ContextVar[list[int] | None] = ContextVar("rolegate_seal_after_response")


def seal_after_commit(*event_ids: int) -> None:
    """Seal committed events: now, or inside a web request once its response is sent.

    Registered with ``transaction.on_commit``, so only committed events get here. A failure is
    logged and left to the sweep.
    """
    pending = after_response.get(None)
    if pending is not None:
        pending.extend(event_ids)
        return
    seal_now(*event_ids)


def seal_now(*event_ids: int, request_id: str = "") -> None:
    """Seal committed events in one chain append; a failure is logged and left to the sweep."""
    if not event_ids:
        return
    try:
        audit_seal(event_ids=list(event_ids))
    except Exception:
        # The change the event records is committed; the sweep seals it later and
        # `unsealed_backlog` reports it if that keeps failing.
        log.exception(
            "could not seal audit events %s now%s; the sweep will retry",
            event_ids,
            f" (request {request_id})" if request_id else "",
        )


def unsealed_backlog(*, older_than_seconds: int = 60) -> tuple[int, dt.datetime | None]:
    """How many events older than the grace period are not sealed, and the oldest's time."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    unsealed = AuditEvent.objects.exclude(id__in=AuditChainLink.objects.values("event_id")).filter(
        time__lte=cutoff
    )
    oldest = unsealed.order_by("time").values_list("time", flat=True).first()
    return unsealed.count(), oldest


@dataclass(frozen=True)
class ChainHead:
    """Where the chain stood after a given link: its id, hash and position (link count)."""

    link_id: int
    chain_hash: str
    position: int


@dataclass(frozen=True)
class ChainReport:
    """Result of verifying the chain."""

    links_checked: int
    ok: bool
    broken_link_id: int | None = None
    event_id: int | None = None
    reason: str = ""
    head: ChainHead | None = None


def _verify_link(link: AuditChainLink, previous: str, keyring: AuditKeyring) -> str:
    """The reason this link does not follow from ``previous``, or ""."""
    if not link.key_id:
        return "the link has no key id (rewritten without the key, or never resealed)"
    key = keyring.keys.get(link.key_id)
    if key is None:
        return f"the link is sealed with key id {link.key_id!r}, which is not configured"
    expected = link_hash(previous, link.event_hash, key_id=link.key_id, key=key)
    if not hmac.compare_digest(expected, link.chain_hash):
        return "the link does not follow from the previous one (a link was removed or altered)"
    return ""


def audit_verify(*, keyring: AuditKeyring | None = None) -> ChainReport:
    """Walk the chain in link order and report the first broken link."""
    keyring = keyring or audit_keyring()
    previous = GENESIS
    checked = 0
    head: ChainHead | None = None
    last_id = 0
    while True:
        chunk = list(AuditChainLink.objects.filter(id__gt=last_id).order_by("id")[:VERIFY_CHUNK])
        if not chunk:
            break
        events = AuditEvent.objects.in_bulk([link.event_id for link in chunk])
        for link in chunk:
            checked += 1
            reason = _verify_link(link, previous, keyring)
            if reason:
                return ChainReport(checked, False, link.id, link.event_id, reason, head)
            event = events.get(link.event_id)
            if event is None:
                return ChainReport(
                    checked, False, link.id, link.event_id, "the event was deleted", head
                )
            if event_hash(event) != link.event_hash:
                return ChainReport(
                    checked, False, link.id, link.event_id, "the event was modified", head
                )
            previous = link.chain_hash
            head = ChainHead(link_id=link.id, chain_hash=link.chain_hash, position=checked)
        last_id = chunk[-1].id
    return ChainReport(checked, True, head=head)


def chain_head() -> ChainHead | None:
    """The current head of the chain, as a checkpoint records it."""
    last = AuditChainLink.objects.order_by("-id").first()
    if last is None:
        return None
    return ChainHead(
        link_id=last.id,
        chain_hash=last.chain_hash,
        position=AuditChainLink.objects.filter(id__lte=last.id).count(),
    )


def reseal_legacy_links(link_model: Any, event_model: Any) -> tuple[int, bool]:
    """Verify an unkeyed (pre-key) chain and replace its links with keyed ones, in order.

    Returns (links, resealed). A broken legacy chain is left as it is so ``audit_verify`` keeps
    reporting the break instead of the reseal hiding it.
    """
    legacy = list(link_model.objects.filter(key_id="").order_by("id"))
    if not legacy:
        return 0, False
    previous = GENESIS
    events = event_model.objects.in_bulk([link.event_id for link in legacy])
    for link in legacy:
        event = events.get(link.event_id)
        if (
            event is None
            or event_hash(event) != link.event_hash
            or legacy_link_hash(previous, link.event_hash) != link.chain_hash
        ):
            log.error("the unkeyed audit chain is broken at link %s: not resealed", link.id)
            return len(legacy), False
        previous = link.chain_hash
    keyring = audit_keyring()
    previous = GENESIS
    for link in legacy:
        previous = link_hash(
            previous, link.event_hash, key_id=keyring.signing_id, key=keyring.signing_key
        )
        # The model's manager refuses updates (append-only); a migration may, through SQL.
        link_model._base_manager.filter(pk=link.pk).update(
            chain_hash=previous, key_id=keyring.signing_id
        )
    return len(legacy), True
