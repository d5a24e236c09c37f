"""Leaf certificates: issuance (one per credential issuance), revocation, CRL refreshes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from apps.audit import events
from apps.audit.services import audit_record
from apps.authority import pki
from apps.authority.models import CertificateAuthority, LeafCertificate
from apps.authority.services.authorities import (
    _ACTIVE_HINT,
    CRL_LIFETIME,
    RotationError,
    State,
    _pem,
    _signer_for,
    _write_crl,
    ca_ensure,
)
from apps.core.hooks import notify_crl_changed
from apps.core.identity import Actor, SystemActor
from awsra.signer import SigningIdentity

# Leaves only need to live until they are exchanged for AWS credentials; an hour is already
# generous and keeps a leaked leaf nearly worthless.
MAX_LEAF_TTL = timedelta(hours=1)


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
