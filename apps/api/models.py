"""Bearer tokens for the CLI and the device-authorization requests that mint them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A short-lived bearer token for the JSON API; only its SHA-256 is stored."""

    class Method(models.TextChoices):
        PASSWORD = "password"  # noqa: S105 - a method name, not a secret
        DEVICE = "device"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # The public part of the token, used to find the row; the secret part is only hashed.
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=16, choices=Method.choices)
    client_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.user_id})"

    @property
    def is_active(self) -> bool:
        """True while the token is neither revoked nor expired."""
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        """`active`, `revoked` or `expired`, for display."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


class DeviceAuthorization(models.Model):
    """One CLI device-login attempt (RFC 8628 style): pending until a user approves it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        DENIED = "denied"
        CONSUMED = "consumed"

    # The device code is a bearer secret held by the CLI: stored hashed like tokens.
    device_code_hash = models.CharField(max_length=64, unique=True)
    user_code = models.CharField(max_length=9, db_index=True)
    client_name = models.CharField(max_length=200, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    interval = models.PositiveIntegerField(default=5)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.user_code} ({self.status})"

    @property
    def is_expired(self) -> bool:
        """True once the code can no longer be approved or exchanged."""
        return self.expires_at <= timezone.now()


class AutomationToken(models.Model):
    """A named, scoped bearer token for automation (CI, Terraform-like tools, a SIEM poller).

    Created by an admin for an owner; only its SHA-256 is stored. At every use it may do what its
    scopes allow and what its owner may do at that moment, whichever is less.
    """

    name = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="automation_tokens"
    )
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        """True while the token is neither revoked nor expired."""
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        """`active`, `revoked` or `expired`, for display."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"
