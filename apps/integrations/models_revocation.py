"""Live-session revocation: who was revoked on which IAM role since when, and each push to IAM."""

from __future__ import annotations

from django.db import models


class RevokedSession(models.Model):
    """Sessions of one source identity on one IAM role issued before `revoked_before` are denied.

    `source_identity` is `CN=<username>` (as Roles Anywhere sets it), or empty for "every session
    of the role" (the staff action for a role, and the size-limit fallback).
    """

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="revoked_sessions"
    )
    role_arn = models.CharField(max_length=2048)
    source_identity = models.CharField(max_length=128, blank=True)
    username = models.CharField(max_length=150, blank=True)
    # Whole seconds, rounded up: aws:TokenIssueTime carries whole seconds.
    revoked_before = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("role_arn", "source_identity")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "role_arn", "source_identity"),
                name="revoked_session_once",
            )
        ]

    def __str__(self) -> str:
        who = self.source_identity or "every session"
        return f"{who} on {self.role_arn} before {self.revoked_before:%Y-%m-%d %H:%M:%S}"


class RevocationRun(models.Model):
    """One push of the revocation policy to IAM for one integration: when, outcome, message."""

    class Status(models.TextChoices):
        RUNNING = "RUNNING"
        SUCCESS = "SUCCESS"
        ERROR = "ERROR"

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="revocation_runs"
    )
    reason = models.CharField(max_length=300, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    roles_written = models.PositiveIntegerField(default=0)
    roles_cleared = models.PositiveIntegerField(default=0)
    # Roles whose policy fell back to "revoke every session before T" (IAM size limit).
    fallback_roles = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        indexes = [models.Index(fields=["integration", "-started_at"], name="revocationrun_recent")]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"
