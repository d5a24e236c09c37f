"""The CA certificates (with their encrypted keys) and the leaf certificates they issued."""

from __future__ import annotations

from functools import cached_property

from cryptography import x509
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.authority.pki import SealedKey


class CertificateAuthority(models.Model):
    """One CA generation; its private key is stored only encrypted (see pki.seal_private_key)."""

    class State(models.TextChoices):
        # standby: created by rotation `init`, exported (trusted) but not signing yet.
        STANDBY = "standby", "standby (next)"
        ACTIVE = "active", "active"
        # previous: replaced by `activate`, still exported so its leaves stay valid.
        PREVIOUS = "previous", "previous (still trusted)"
        RETIRED = "retired", "retired"

    TRUSTED_STATES = (State.ACTIVE, State.STANDBY, State.PREVIOUS)

    state = models.CharField(max_length=16, choices=State.choices, db_index=True)
    key_type = models.CharField(max_length=16)
    certificate_pem = models.TextField()
    subject = models.CharField(max_length=300)
    serial_hex = models.CharField(max_length=40, unique=True)
    fingerprint_sha256 = models.CharField(max_length=95, unique=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Envelope-encrypted private key; the KEK itself is never in the database.
    key_id = models.CharField(max_length=36, unique=True)
    kek_id = models.CharField(max_length=16)
    dek_nonce = models.BinaryField(max_length=12)
    wrapped_dek = models.BinaryField(max_length=64)
    key_nonce = models.BinaryField(max_length=12)
    key_ciphertext = models.BinaryField(max_length=4096)
    # The CRL is re-signed only when its content changes; the number lets the profile sync
    # upload it (ImportCrl) only when it changed. Numbers only ever grow across CAs.
    crl_number = models.PositiveBigIntegerField(default=1)
    crl_pem = models.TextField(blank=True)
    crl_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "certificate authority"
        verbose_name_plural = "certificate authorities"
        constraints = [
            # At most one CA per live state: creation on first use and rotation races end in
            # an IntegrityError rather than two active CAs.
            models.UniqueConstraint(
                fields=["state"],
                condition=~Q(state="retired"),
                name="authority_one_ca_per_live_state",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["standby", "active", "previous", "retired"]),
                name="authority_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} [{self.state}] {self.fingerprint_sha256[:23]}"

    @cached_property
    def certificate(self) -> x509.Certificate:
        """The parsed CA certificate."""
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    @property
    def sealed_key(self) -> SealedKey:
        """The stored encrypted key as the pki module's value type."""
        return SealedKey(
            key_id=self.key_id,
            kek_id=self.kek_id,
            dek_nonce=bytes(self.dek_nonce),
            wrapped_dek=bytes(self.wrapped_dek),
            nonce=bytes(self.key_nonce),
            ciphertext=bytes(self.key_ciphertext),
        )

    @property
    def is_trusted(self) -> bool:
        """Whether the CA is part of the exported bundle."""
        return self.state in self.TRUSTED_STATES


class LeafCertificate(models.Model):
    """A leaf the CA signed: enough to name it in audit events and revoke it; never its key.

    One row per credential issuance, so every index is paid on the issuance path. Kept: the
    serial (revocation and audit look leaves up by it), `issued_at` (the admin list's order
    and date filter) and, for the CRL, revoked leaves by CA, an index only revoked rows enter
    (none on insert). Dropped in 0002 as no query used them: subject, purpose, the CA foreign
    key and `revoked_at` on their own, and the pattern-ops copies PostgreSQL keeps for text
    indexes (the admin's search is a substring match no b-tree serves).
    """

    serial_hex = models.CharField(max_length=40, unique=True)
    subject_cn = models.CharField(max_length=200)
    purpose = models.CharField(max_length=64)
    authority = models.ForeignKey(
        CertificateAuthority, on_delete=models.PROTECT, related_name="issued", db_index=False
    )
    issued_at = models.DateTimeField(db_index=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    actor_name = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("-issued_at", "-id")
        indexes = [
            # The CRL: a CA's revoked leaves in revocation order (services._write_crl).
            models.Index(
                fields=["authority", "revoked_at"],
                condition=Q(revoked_at__isnull=False),
                name="leaf_revoked_by_authority",
            )
        ]

    def __str__(self) -> str:
        return f"{self.serial_hex} CN={self.subject_cn} ({self.purpose})"

    @property
    def serial(self) -> int:
        """The serial as an integer."""
        return int(self.serial_hex, 16)

    @property
    def is_revoked(self) -> bool:
        """Whether the certificate is on the CRL."""
        return self.revoked_at is not None
