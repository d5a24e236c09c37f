"""Writes for the certificate authority: creation, leaf issuance, revocation, rotation."""

from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from apps.audit import events
from apps.audit.services import audit_record
from apps.authority import pki
from apps.authority.keyring import configured_keks
from apps.authority.models import CertificateAuthority, LeafCertificate
from apps.authority.pki import CaKeyError
from apps.core.errors import DomainError
from apps.core.hooks import notify_crl_changed
from apps.core.identity import Actor, SystemActor
from awsra.signer import SigningIdentity

__all__ = [
    "MAX_LEAF_TTL",
    "CaKeyError",
    "IssuedCertificate",
    "RotationError",
    "ca_ensure",
    "ca_keys_rewrap",
    "ca_rotate",
    "certificate_issue",
    "certificate_revoke",
    "crl_refresh",
]

State = CertificateAuthority.State
# Leaves only need to live until they are exchanged for AWS credentials; an hour is already
# generous and keeps a leaked leaf nearly worthless.
MAX_LEAF_TTL = timedelta(hours=1)
CRL_LIFETIME = timedelta(days=30)
RotationPhase = Literal["init", "activate", "finish", "rollback"]
ROTATION_PHASES: tuple[RotationPhase, ...] = ("init", "activate", "finish", "rollback")
ROTATION_EVENTS = {
    "init": events.CA_ROTATION_INITIATED,
    "activate": events.CA_ROTATION_ACTIVATED,
    "finish": events.CA_ROTATION_FINISHED,
    "rollback": events.CA_ROTATION_ROLLED_BACK,
}


class RotationError(DomainError):
    """A rotation phase was requested in a state where it does not apply."""

    code = "rotation_conflict"
    status = 409


@dataclass(frozen=True)
class IssuedCertificate:
    """A freshly issued leaf certificate and its key (in memory only; never persisted).

    The leaf is kept as the DER the CA signed (`der`); `certificate` parses it on first use,
    for callers that need a `cryptography` object. Issuance signs CreateSession with
    `identity`, which needs neither the parse nor a key comparison (see SigningIdentity).
    """

    der: bytes
    private_key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]
    serial: int
    serial_hex: str
    not_after: datetime

    def __repr__(self) -> str:  # the default repr would not show the key, but be explicit
        return f"IssuedCertificate(serial_hex={self.serial_hex!r}, not_after={self.not_after!r})"

    @cached_property
    def certificate(self) -> x509.Certificate:
        """The leaf parsed by `cryptography`."""
        return x509.load_der_x509_certificate(self.der)

    @cached_property
    def identity(self) -> SigningIdentity:
        """What CreateSession signs with: the leaf's DER, its key and the chain.

        Built without comparing the key with the certificate: the authority generated this
        key and signed this leaf for it a moment ago (`certificate_issue`), so they match by
        construction. Keys from anywhere else go through `SigningIdentity.from_certificate`.
        """
        return SigningIdentity(
            certificate_der=self.der,
            serial=self.serial,
            private_key=self.private_key,
            chain_der=tuple(c.public_bytes(serialization.Encoding.DER) for c in self.chain),
        )

    def certificate_pem(self) -> str:
        """The leaf certificate as PEM."""
        return _pem(self.der)


def _pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


# --- signer cache --------------------------------------------------------------------------
# Decrypting the CA key costs more than issuing a leaf, so each process keeps the decrypted
# signer of the CAs it used. The key includes the configured KEK ids, so changing the key in
# settings (or a test override) forces a fresh decryption and a wrong key fails at once.
_SIGNERS: dict[tuple[int, str, tuple[str, ...]], pki.Signer] = {}
_SIGNERS_LOCK = threading.Lock()


@sensitive_variables("private_key")
def _signer_for(authority: CertificateAuthority) -> pki.Signer:
    keks = configured_keks()
    cache_key = (authority.pk, authority.key_id, tuple(kek.key_id for kek in keks))
    signer = _SIGNERS.get(cache_key)
    if signer is None:
        private_key = pki.open_private_key(authority.sealed_key, keks)
        signer = pki.Signer.create(authority.certificate, private_key)
        with _SIGNERS_LOCK:
            for stale in [key for key in _SIGNERS if key[0] == authority.pk]:
                del _SIGNERS[stale]
            _SIGNERS[cache_key] = signer
    return signer


def forget_signers() -> None:
    """Drop every decrypted CA key (and the active-CA hint) from this process's memory."""
    with _SIGNERS_LOCK:
        _SIGNERS.clear()
    _ACTIVE_HINT[0] = None


# --- CA creation ---------------------------------------------------------------------------


@sensitive_variables("private_key")
def _new_authority(*, state: str, now: datetime) -> CertificateAuthority:
    """Generate a CA key and certificate and build (unsaved) its row, key encrypted."""
    keks = configured_keks()
    key_type = settings.ROLEGATE_CA_KEY_TYPE
    private_key = pki.generate_ca_key(key_type)
    certificate = pki.build_ca_certificate(
        private_key=private_key,
        organization=settings.ROLEGATE_CLUSTER_NAME,
        now=now,
        validity=timedelta(days=settings.ROLEGATE_CA_VALIDITY_DAYS),
    )
    sealed = pki.seal_private_key(private_key, key_id=str(uuid.uuid4()), kek=keks[0])
    return CertificateAuthority(
        state=state,
        key_type=key_type,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        subject=certificate.subject.rfc4514_string()[:300],
        serial_hex=pki.serial_to_hex(certificate.serial_number),
        fingerprint_sha256=pki.fingerprint_sha256(certificate),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        created_at=now,
        activated_at=now if state == State.ACTIVE else None,
        key_id=sealed.key_id,
        kek_id=sealed.kek_id,
        dek_nonce=sealed.dek_nonce,
        wrapped_dek=sealed.wrapped_dek,
        key_nonce=sealed.nonce,
        key_ciphertext=sealed.ciphertext,
    )


def _next_crl_number() -> int:
    current = CertificateAuthority.objects.aggregate(top=Max("crl_number"))["top"] or 0
    return int(current) + 1


def _write_crl(authority: CertificateAuthority, *, now: datetime) -> None:
    """Re-sign the CA's CRL with a number higher than any CRL before it, and save it."""
    revoked = (
        LeafCertificate.objects.filter(authority=authority, revoked_at__isnull=False)
        .order_by("revoked_at")
        .values_list("serial_hex", "revoked_at")
    )
    number = _next_crl_number()
    crl = pki.build_crl(
        _signer_for(authority),
        revoked=[
            (int(serial_hex, 16), revoked_at)
            for serial_hex, revoked_at in revoked
            if revoked_at is not None
        ],
        number=number,
        now=now,
        lifetime=CRL_LIFETIME,
    )
    authority.crl_number = number
    authority.crl_pem = crl.public_bytes(serialization.Encoding.PEM).decode()
    authority.crl_updated_at = now
    authority.save(update_fields=["crl_number", "crl_pem", "crl_updated_at"])


def _ca_details(authority: CertificateAuthority) -> dict[str, Any]:
    return {
        "fingerprint_sha256": authority.fingerprint_sha256,
        "serial": authority.serial_hex,
        "key_type": authority.key_type,
        "not_after": authority.not_after,
        "state": authority.state,
    }


def _create_authority(*, state: str, actor: Actor, reason: str) -> CertificateAuthority:
    now = timezone.now().replace(microsecond=0)
    authority = _new_authority(state=state, now=now)
    with transaction.atomic():
        authority.save()
        _write_crl(authority, now=now)
        audit_record(
            event_type=events.CA_CREATED,
            actor=actor,
            target_kind="certificate_authority",
            target_name=authority.fingerprint_sha256,
            details={**_ca_details(authority), "reason": reason},
        )
    return authority


def ca_ensure(*, actor: Actor) -> CertificateAuthority:
    """Return the active CA, creating the first one on an empty install."""
    authority = CertificateAuthority.objects.filter(state=State.ACTIVE).first()
    if authority is not None:
        return authority
    if CertificateAuthority.objects.exists():
        # CAs exist but none is active: only possible after manual database edits.
        raise RotationError(
            "no CA is active but CA records exist; activate one with `rotate_ca activate`"
        )
    try:
        return _create_authority(state=State.ACTIVE, actor=actor, reason="first use")
    except IntegrityError:
        # Another process created it between our read and our insert: use theirs.
        return CertificateAuthority.objects.get(state=State.ACTIVE)


# --- leaves --------------------------------------------------------------------------------


def _validate_leaf_request(subject_cn: str, purpose: str, ttl: timedelta) -> None:
    if not isinstance(subject_cn, str) or not subject_cn.strip():
        raise ValueError("subject_cn must be a non-empty string")
    if len(subject_cn) > 64:  # RFC 5280 ub-common-name
        raise ValueError(f"subject_cn must be at most 64 characters, got {len(subject_cn)}")
    if any(ord(char) < 32 or ord(char) == 127 for char in subject_cn):
        raise ValueError("subject_cn must not contain control characters")
    if not isinstance(purpose, str) or not purpose.strip() or len(purpose) > 64:
        raise ValueError("purpose must be a non-empty string of at most 64 characters")
    if not isinstance(ttl, timedelta) or ttl <= timedelta(0) or ttl > MAX_LEAF_TTL:
        raise ValueError(f"ttl must be a positive timedelta of at most {MAX_LEAF_TTL}")


@sensitive_variables("leaf_key")
def certificate_issue(
    *,
    subject_cn: str,
    purpose: str,
    ttl: timedelta = timedelta(minutes=1),
    actor: Actor,
) -> IssuedCertificate:
    """Issue a short-lived leaf (fresh P-256 key, in memory only) signed by the active CA.

    Records a LeafCertificate row (no key). No audit event is written here: every leaf is
    issued for a credential issuance whose caller writes one audit event naming this serial
    (and refuses the issuance if that write fails), so a second event per leaf would only
    double the audit volume. CA creation, rotation and revocation are audited here.
    """
    _validate_leaf_request(subject_cn, purpose, ttl)
    if isinstance(actor, SystemActor):
        actor_name = actor.name or "system"
    elif actor is not None and actor.is_authenticated:
        actor_name = str(actor.get_username())
    else:
        actor_name = "system"
    for _attempt in range(3):
        authority = _ACTIVE_HINT[0] or ca_ensure(actor=actor)
        signer = _signer_for(authority)
        # X.509 times have whole seconds; truncating keeps the row equal to the certificate.
        now = timezone.now().replace(microsecond=0)
        serial = pki.random_serial()
        leaf, leaf_key = pki.build_leaf(
            signer, subject_cn=subject_cn, serial=serial, now=now, ttl=ttl
        )
        serial_hex = pki.serial_to_hex(serial)
        recorded = _record_leaf(
            authority_id=authority.pk,
            authority_key_id=authority.key_id,
            serial_hex=serial_hex,
            subject_cn=subject_cn,
            purpose=purpose,
            issued_at=now,
            not_before=leaf.not_before,
            not_after=leaf.not_after,
            actor_name=actor_name[:200],
        )
        if recorded:
            _ACTIVE_HINT[0] = authority
            return IssuedCertificate(
                der=leaf.der,
                private_key=leaf_key,
                chain=(),
                serial=serial,
                serial_hex=serial_hex,
                not_after=leaf.not_after,
            )
        # The CA we signed with is no longer active (a rotation in another process, or a
        # rolled-back test row): drop the hint and sign again with the one that is.
        _ACTIVE_HINT[0] = None
    raise RotationError("the active CA kept changing during issuance; try again")


# The CA this process last signed with. Trusting it blindly would let a process keep signing
# with a CA another process retired, so `_record_leaf` re-checks it in the same statement that
# records the leaf: one database round trip per leaf instead of a read plus a write.
_ACTIVE_HINT: list[CertificateAuthority | None] = [None]


def _record_leaf(
    *,
    authority_id: int,
    authority_key_id: str,
    serial_hex: str,
    subject_cn: str,
    purpose: str,
    issued_at: datetime,
    not_before: datetime,
    not_after: datetime,
    actor_name: str,
) -> bool:
    """Insert the leaf's row if that CA (id and key) is still the active one; say if it did."""
    leaf_table = connection.ops.quote_name(LeafCertificate._meta.db_table)
    ca_table = connection.ops.quote_name(CertificateAuthority._meta.db_table)
    columns = (
        "serial_hex, subject_cn, purpose, authority_id, issued_at, not_before, not_after, "
        "actor_name, revocation_reason"
    )
    sql = (
        f"INSERT INTO {leaf_table} ({columns}) "  # noqa: S608 # nosec B608 (table names from model meta)
        f"SELECT %s, %s, %s, id, %s, %s, %s, %s, '' FROM {ca_table} "
        "WHERE id = %s AND key_id = %s AND state = %s"
    )
    field = LeafCertificate._meta.get_field("issued_at")
    times = [
        field.get_db_prep_value(value, connection) for value in (issued_at, not_before, not_after)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                serial_hex,
                subject_cn,
                purpose,
                *times,
                actor_name,
                authority_id,
                authority_key_id,
                State.ACTIVE,
            ],
        )
        return bool(cursor.rowcount == 1)


def _parse_serial(serial: int | str) -> str:
    if isinstance(serial, bool):
        raise ValueError("serial must be an integer or a hex string")
    if isinstance(serial, int):
        number = serial
    elif isinstance(serial, str):
        text = serial.strip().lower().replace(":", "")
        text = text[2:] if text.startswith("0x") else text
        try:
            number = int(text, 16)
        except ValueError:
            raise ValueError(f"serial {serial!r} is not a hexadecimal number") from None
    else:
        raise ValueError("serial must be an integer or a hex string")
    if not 0 < number < 2**160:
        raise ValueError("serial is out of range")
    return pki.serial_to_hex(number)


def certificate_revoke(*, serial: int | str, reason: str, actor: Actor) -> LeafCertificate:
    """Revoke an issued leaf and re-sign its CA's CRL (a no-op if it is already revoked)."""
    serial_hex = _parse_serial(serial)
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a revocation reason is required")
    with transaction.atomic():
        try:
            issued = (
                LeafCertificate.objects.select_for_update()
                .select_related("authority")
                .get(serial_hex=serial_hex)
            )
        except LeafCertificate.DoesNotExist:
            raise ValueError(f"no certificate with serial {serial_hex} was issued here") from None
        if issued.revoked_at is not None:
            return issued
        # Lock every CA row: CRL numbers are allocated across CAs.
        list(CertificateAuthority.objects.select_for_update().order_by("pk"))
        now = timezone.now()
        issued.revoked_at = now
        issued.revocation_reason = reason[:200]
        issued.save(update_fields=["revoked_at", "revocation_reason"])
        authority = issued.authority
        _write_crl(authority, now=now)
        audit_record(
            event_type=events.CERTIFICATE_REVOKED,
            actor=actor,
            target_kind="certificate",
            target_name=serial_hex,
            details={
                "subject_cn": issued.subject_cn,
                "purpose": issued.purpose,
                "reason": issued.revocation_reason,
                "ca_fingerprint_sha256": authority.fingerprint_sha256,
                "crl_number": authority.crl_number,
            },
        )
        # The trust anchors get the new list now, not at the next sync.
        transaction.on_commit(notify_crl_changed)
    return issued


def crl_refresh(*, actor: Actor, force: bool = False) -> bool:
    """Re-sign trusted CAs' CRLs past half their lifetime (or all with ``force``)."""
    refreshed = False
    with transaction.atomic():
        authorities = list(CertificateAuthority.objects.select_for_update().order_by("pk"))
        now = timezone.now()
        fingerprints: list[str] = []
        for authority in authorities:
            if not authority.is_trusted:
                continue
            due = authority.crl_updated_at is None or (
                now - authority.crl_updated_at >= CRL_LIFETIME / 2
            )
            if force or due:
                _write_crl(authority, now=now)
                refreshed = True
                fingerprints.append(authority.fingerprint_sha256)
        if refreshed:
            audit_record(
                event_type=events.CA_CRL_REFRESHED,
                actor=actor,
                target_kind="certificate_authority",
                target_name=",".join(fingerprints)[:300],
                details={"forced": force},
            )
            transaction.on_commit(notify_crl_changed)
    return refreshed


# --- rotation ------------------------------------------------------------------------------


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
    forget = [key for key in _SIGNERS if key[0] == previous.pk]
    with _SIGNERS_LOCK:
        for key in forget:
            _SIGNERS.pop(key, None)
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
