"""Integrations (an AWS account reached through Roles Anywhere) and their profile-sync runs."""

from __future__ import annotations

from django.db import models


class Integration(models.Model):
    """An `aws-ra` integration: the trust anchor plus the profile-sync configuration."""

    class SubKind(models.TextChoices):
        AWS_RA = "aws-ra", "AWS IAM Roles Anywhere"

    name = models.CharField(max_length=63, unique=True)
    sub_kind = models.CharField(max_length=32, choices=SubKind.choices, default=SubKind.AWS_RA)
    trust_anchor_arn = models.CharField(max_length=200)
    # Derived from the trust anchor ARN and stored so lists and checks need no parsing.
    partition = models.CharField(max_length=16)
    region = models.CharField(max_length=32)
    account_id = models.CharField(max_length=12)

    sync_enabled = models.BooleanField(default=False)
    sync_profile_arn = models.CharField(max_length=200, blank=True)
    sync_role_arn = models.CharField(max_length=2048, blank=True)
    sync_profile_accepts_role_session_name = models.BooleanField(default=False)
    profile_name_filters = models.JSONField(default=list, blank=True)
    # The live-session kill switch (`spec.aws_ra.session_revocation.enabled`, issue 18).
    session_revocation_enabled = models.BooleanField(default=False)

    # Written by the sync only.
    last_complete_listing_at = models.DateTimeField(null=True, blank=True)
    crl_arn = models.CharField(max_length=200, blank=True)
    crl_uploaded_version = models.BigIntegerField(null=True, blank=True)
    # The "running" marker: a non-blocking lock that also works on SQLite, where row locks and
    # advisory locks do not exist. A crashed worker's marker goes stale after `sync_lock_until`.
    sync_lock_token = models.CharField(max_length=64, blank=True)
    sync_lock_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class SyncRun(models.Model):
    """One profile-sync attempt for one integration: when, how it ended, and what it changed."""

    class Status(models.TextChoices):
        RUNNING = "RUNNING"
        SUCCESS = "SUCCESS"
        ERROR = "ERROR"
        SKIPPED = "SKIPPED"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        COMMAND = "command"
        ADMIN = "admin"
        CHANGE = "change"
        RETRY = "retry"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    listing_complete = models.BooleanField(default=False)
    profiles_seen = models.PositiveIntegerField(default=0)
    profiles_synced = models.PositiveIntegerField(default=0)
    apps_created = models.PositiveIntegerField(default=0)
    apps_updated = models.PositiveIntegerField(default=0)
    apps_deleted = models.PositiveIntegerField(default=0)
    profiles_skipped = models.PositiveIntegerField(default=0)
    profile_errors = models.PositiveIntegerField(default=0)
    crl_outcome = models.CharField(max_length=32, blank=True)
    # Capped at 100 KB by the service (as the reference system does).
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        indexes = [models.Index(fields=["integration", "-started_at"], name="syncrun_recent")]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        """How long the run took, if it has ended."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


# Live-session revocation entries and push runs (apps.integrations.revocation).
from apps.integrations.models_revocation import RevocationRun, RevokedSession  # noqa: E402, F401
