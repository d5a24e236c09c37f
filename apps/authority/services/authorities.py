"""The certificate authorities themselves: creation, the per-process signer cache, CRLs."""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from apps.audit import events
from apps.audit.services import audit_record
from apps.authority import pki
from apps.authority.keyring import configured_keks
from apps.authority.models import CertificateAuthority, LeafCertificate
from apps.core.errors import DomainError
from apps.core.identity import Actor

State = CertificateAuthority.State
CRL_LIFETIME = timedelta(days=30)


class RotationError(DomainError):
    """A rotation phase was requested in a state where it does not apply."""

    code = "rotation_conflict"
    status = 409


# The CA this process last signed with. Trusting it blindly would let a process keep signing
# with a CA another process retired, so `_record_leaf` re-checks it in the same statement that
# records the leaf: one database round trip per leaf instead of a read plus a write.
_ACTIVE_HINT: list[CertificateAuthority | None] = [None]


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


def _forget_signers_of(authority_pk: int) -> None:
    """Drop the decrypted key of one CA (retired) from this process's memory."""
    with _SIGNERS_LOCK:
        for key in [key for key in _SIGNERS if key[0] == authority_pk]:
            del _SIGNERS[key]


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
