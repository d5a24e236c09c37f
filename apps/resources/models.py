"""AWS apps: one per Roles Anywhere profile, written by the profile sync."""

from __future__ import annotations

from django.db import models


class AwsApp(models.Model):
    """A synced Roles Anywhere profile that users can launch (console) or log in to (CLI)."""

    name = models.CharField(max_length=255, unique=True)
    # By label: integrations (the sync that writes apps) sits above the catalog.
    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="apps"
    )
    profile_arn = models.CharField(max_length=200)
    profile_name = models.CharField(max_length=255)
    labels = models.JSONField(default=dict, blank=True)
    account_id = models.CharField(max_length=12)
    region = models.CharField(max_length=32)
    partition = models.CharField(max_length=16)
    role_arns = models.JSONField(default=list, blank=True)
    accept_role_session_name = models.BooleanField(default=False)
    duration_seconds = models.PositiveIntegerField(default=3600)
    console_url = models.CharField(max_length=200)
    # Set when the last run could not refresh this app (for example its tags failed to load);
    # the app is kept with its previous data and `last_confirmed_at` stays where it was.
    sync_error = models.TextField(blank=True)
    last_confirmed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "profile_arn"], name="awsapp_unique_profile_per_integration"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CatalogVersion(models.Model):
    """One row: the app catalog's version, bumped by a database trigger on any `AwsApp` write.

    Set by migration 0003's statement-level trigger (inserts, updates, deletes, truncates, bulk
    writes and raw SQL alike), never by application code; read with one primary-key lookup.
    """

    id = models.PositiveSmallIntegerField(primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalog v{self.version}"


# Per-user pins and last launches (owned by the Resources page work).
from apps.resources.models_user import AppUserState  # noqa: E402, F401
