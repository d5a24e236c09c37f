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
    # The catalog change number of this row's last change that the Resources page shows (name,
    # integration, profile, account, region, labels, roles). Set by migration 0004's trigger on
    # PostgreSQL (whatever Django writes here is overridden); NULL on SQLite, where a catalog
    # change rebuilds the cached catalog instead of patching it.
    catalog_seq = models.BigIntegerField(null=True, editable=False, db_index=True)

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
    # PostgreSQL: the change number of the last committed catalog change, i.e. the
    # `CatalogChange` marker of `version` (migration 0004). NULL on SQLite.
    seq = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"catalog v{self.version}"


class CatalogChange(models.Model):
    """PostgreSQL's log of catalog changes, written by migration 0004's triggers only.

    Every statement that changes the catalog adds a marker (`version` set: the catalog version
    it produced, at change number `seq`); a deleted app leaves a tombstone (`app_id` set); a
    TRUNCATE leaves a reset (neither set). A process that cached the catalog at (version, seq)
    patches it from the rows and log entries after `seq` once it has found its own marker (a
    marker rolled back, or pruned, means it rebuilds instead).
    """

    seq = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField(null=True)
    app_id = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"catalog change {self.seq}"


# Per-user pins and last launches (owned by the Resources page work).
from apps.resources.models_user import AppUserState  # noqa: E402, F401
