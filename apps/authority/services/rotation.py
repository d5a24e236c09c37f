"""CA rotation (init, activate, finish, rollback), KEK re-wrapping and expiry warnings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit import events
from apps.audit.services import audit_record
from apps.authority import pki
from apps.authority.keyring import configured_keks
from apps.authority.models import CertificateAuthority
from apps.authority.services.authorities import (
    RotationError,
    State,
    _ca_details,
    _create_authority,
    _forget_signers_of,
    _new_authority,
    _write_crl,
)
from apps.core.identity import Actor

RotationPhase = Literal["init", "activate", "finish", "rollback"]
ROTATION_PHASES: tuple[RotationPhase, ...] = ("init", "activate", "finish", "rollback")
ROTATION_EVENTS = {
    "init": events.CA_ROTATION_INITIATED,
    "activate": events.CA_ROTATION_ACTIVATED,
    "finish": events.CA_ROTATION_FINISHED,
    "rollback": events.CA_ROTATION_ROLLED_BACK,
}


def _by_state(authorities: list[CertificateAuthority]) -> dict[str, CertificateAuthority]:
    return {ca.state: ca for ca in authorities if ca.state != State.RETIRED}


def ca_rotate(*, phase: RotationPhase, actor: Actor) -> CertificateAuthority:
    """Run one rotation phase and return the CA it acted on.

    ``init`` creates a standby CA (trusted, not signing) or, on an empty install, the first
    CA; ``activate`` makes the standby sign while the old CA stays trusted; ``finish`` drops the
    old CA from the bundle; ``rollback`` undoes the last init or activate.
    """
    if phase not in ROTATION_PHASES:
        raise RotationError(f"unknown rotation phase {phase!r}; use {', '.join(ROTATION_PHASES)}")
    if phase == "init":
        return _rotate_init(actor)
    with transaction.atomic():
        authorities = list(CertificateAuthority.objects.select_for_update().order_by("pk"))
        live = _by_state(authorities)
        now = timezone.now()
        if phase == "activate":
            changed = _rotate_activate(live, now)
        elif phase == "finish":
            changed = _rotate_finish(live, now)
        else:
            changed = _rotate_rollback(live, now)
        audit_record(
            event_type=ROTATION_EVENTS[phase],
            actor=actor,
            target_kind="certificate_authority",
            target_name=changed.fingerprint_sha256,
            details=_ca_details(changed),
        )
    return changed


def _rotate_init(actor: Actor) -> CertificateAuthority:
    live = _by_state(list(CertificateAuthority.objects.all()))
    if not live:
        if CertificateAuthority.objects.exists():
            raise RotationError("every CA is retired; restore one from a backup")
        try:
            return _create_authority(state=State.ACTIVE, actor=actor, reason="rotate_ca init")
        except IntegrityError:
            raise RotationError("another process created the first CA at the same time") from None
    if State.STANDBY in live:
        raise RotationError(
            "a rotation is already initialised: add the standby CA to the trust anchor, then "
            "run `rotate_ca activate` (or `rotate_ca rollback`)"
        )
    if State.PREVIOUS in live:
        raise RotationError(
            "the previous rotation is not finished: run `rotate_ca finish` once the trust "
            "anchor holds only the active CA"
        )
    now = timezone.now().replace(microsecond=0)
    authority = _new_authority(state=State.STANDBY, now=now)
    with transaction.atomic():
        try:
            with transaction.atomic():
                authority.save()
        except IntegrityError:
            raise RotationError("another rotation init ran at the same time") from None
        _write_crl(authority, now=now)
        audit_record(
            event_type=events.CA_ROTATION_INITIATED,
            actor=actor,
            target_kind="certificate_authority",
            target_name=authority.fingerprint_sha256,
            details=_ca_details(authority),
        )
    return authority


def _rotate_activate(live: dict[str, CertificateAuthority], now: datetime) -> CertificateAuthority:
    standby = live.get(State.STANDBY)
    if standby is None:
        raise RotationError("no standby CA to activate: run `rotate_ca init` first")
    active = live.get(State.ACTIVE)
    if active is not None:
        active.state = State.PREVIOUS
        active.save(update_fields=["state"])
    standby.state = State.ACTIVE
    standby.activated_at = now
    standby.save(update_fields=["state", "activated_at"])
    # A new number tells the profile sync to upload this CA's CRL in place of the old one.
    _write_crl(standby, now=now)
    return standby


def _rotate_finish(live: dict[str, CertificateAuthority], now: datetime) -> CertificateAuthority:
    previous = live.get(State.PREVIOUS)
    if previous is None:
        raise RotationError("no previous CA to retire: run `rotate_ca activate` first")
    previous.state = State.RETIRED
    previous.retired_at = now
    previous.save(update_fields=["state", "retired_at"])
    _forget_signers_of(previous.pk)
    return previous


def _rotate_rollback(live: dict[str, CertificateAuthority], now: datetime) -> CertificateAuthority:
    active, previous, standby = (
        live.get(State.ACTIVE),
        live.get(State.PREVIOUS),
        live.get(State.STANDBY),
    )
    if previous is not None and active is not None:
        # Undo activate: the old CA signs again; the new one stays trusted as standby so the
        # leaves it already issued remain valid.
        active.state = State.STANDBY
        active.save(update_fields=["state"])
        previous.state = State.ACTIVE
        previous.save(update_fields=["state"])
        _write_crl(previous, now=now)
        return previous
    if standby is not None:
        # Undo init: the standby never signed, so it can simply leave the bundle.
        standby.state = State.RETIRED
        standby.retired_at = now
        standby.save(update_fields=["state", "retired_at"])
        return standby
    raise RotationError("there is no rotation in progress to roll back")


# --- KEK rotation ---------------------------------------------------------------------------


def ca_keys_rewrap(*, actor: Actor) -> int:
    """Re-wrap every CA's data key under the first configured KEK; return how many changed."""
    keks = configured_keks()
    changed = 0
    fingerprints: list[str] = []
    with transaction.atomic():
        for authority in CertificateAuthority.objects.select_for_update().order_by("pk"):
            if authority.kek_id == keks[0].key_id:
                continue
            sealed = pki.rewrap(authority.sealed_key, keks, keks[0])
            authority.kek_id = sealed.kek_id
            authority.dek_nonce = sealed.dek_nonce
            authority.wrapped_dek = sealed.wrapped_dek
            authority.save(update_fields=["kek_id", "dek_nonce", "wrapped_dek"])
            changed += 1
            fingerprints.append(authority.fingerprint_sha256)
        if changed:
            audit_record(
                event_type=events.CA_KEYS_REWRAPPED,
                actor=actor,
                target_kind="certificate_authority",
                target_name=",".join(fingerprints)[:300],
                details={"count": changed, "kek_id": keks[0].key_id},
            )
    return changed


def ca_expiry_warn(*, now: datetime | None = None) -> int:
    """Audit each trusted CA expiring within the warning window, at most once a day each.

    The audit event is what webhooks announce (``ca.expiry_warned``); returns how many were
    written. Idempotent: a CA warned in the last 24 hours is skipped.
    """
    from apps.audit.models import AuditEvent

    now = now or timezone.now()
    window = timedelta(days=int(getattr(settings, "ROLEGATE_CA_EXPIRY_WARNING_DAYS", 30)))
    expiring = CertificateAuthority.objects.filter(
        state__in=CertificateAuthority.TRUSTED_STATES, not_after__lte=now + window
    ).order_by("not_after")
    written = 0
    for authority in expiring:
        recent = AuditEvent.objects.filter(
            event_type=events.CA_EXPIRY_WARNED,
            target_name=authority.fingerprint_sha256,
            time__gte=now - timedelta(hours=24),
        )
        if recent.exists():
            continue
        with transaction.atomic():
            audit_record(
                event_type=events.CA_EXPIRY_WARNED,
                actor=None,
                target_kind="certificate_authority",
                target_name=authority.fingerprint_sha256,
                details={
                    "state": authority.state,
                    "subject": authority.subject,
                    "not_after": authority.not_after,
                    "days_left": max(0, (authority.not_after - now).days),
                },
            )
        written += 1
    return written
