"""Roles: named allow/deny rules over app labels and IAM role ARNs."""

from __future__ import annotations

from django.db import models

# The access-request models live in their sub-app; importing them here registers them with the
# `access` app (their tables and migrations stay the app's).
from apps.access.requests.models import AccessGrant, AccessRequest, AccessReview

__all__ = ["AccessGrant", "AccessRequest", "AccessReview", "Role"]


class Role(models.Model):
    """A role as stored: the normalized `spec:` mapping of its YAML document."""

    name = models.CharField(max_length=64, unique=True)
    # The YAML schema version the role was written in (v5, v6 or v7); the spec shape is the same.
    version = models.CharField(max_length=8, default="v7")
    # Bumped on every change so an editor can refuse to overwrite someone else's newer edit.
    revision = models.PositiveIntegerField(default=1)
    spec = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
