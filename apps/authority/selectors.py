"""Reads for the certificate authority: the trusted bundle, the active CA, the CRL."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from apps.authority.models import CertificateAuthority, LeafCertificate

State = CertificateAuthority.State


def trusted_cas() -> list[CertificateAuthority]:
    """Every CA AWS must trust right now: active first, then standby (next) and previous."""
    order = Case(
        When(state=State.ACTIVE, then=Value(0)),
        When(state=State.STANDBY, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return list(
        CertificateAuthority.objects.filter(state__in=CertificateAuthority.TRUSTED_STATES)
        .order_by(order, "created_at")
        .defer("dek_nonce", "wrapped_dek", "key_nonce", "key_ciphertext")
    )


def active_ca() -> CertificateAuthority | None:
    """The CA that signs leaves now, or None on an install that never issued one."""
    return CertificateAuthority.objects.filter(state=State.ACTIVE).first()


def _ensure_ca() -> None:
    # The CA conceptually exists from the start; it is materialised on first use, and the
    # first export (the enrollment wizard's first step) is such a use.
    from apps.authority.services import ca_ensure

    ca_ensure(actor=None)


def ca_bundle_pem() -> str:
    """PEM of every trusted CA certificate (active + standby/previous), newline-joined."""
    authorities = trusted_cas()
    if not authorities:
        _ensure_ca()
        authorities = trusted_cas()
    return "".join(authority.certificate_pem.strip() + "\n" for authority in authorities)


def crl_pem() -> tuple[str, int]:
    """The active CA's CRL (PEM) and its number, which grows whenever the CRL changes."""
    authority = active_ca()
    if authority is None:
        _ensure_ca()
        authority = active_ca()
        assert authority is not None
    return authority.crl_pem, authority.crl_number


def leaf_certificates() -> QuerySet[LeafCertificate]:
    """Issued leaves, newest first, with their CA fetched in the same query."""
    return LeafCertificate.objects.select_related("authority").order_by("-issued_at", "-id")


def leaf_certificate(serial_hex: str) -> LeafCertificate | None:
    """The recorded leaf with this serial, if any."""
    return LeafCertificate.objects.filter(serial_hex=serial_hex.lower()).first()
