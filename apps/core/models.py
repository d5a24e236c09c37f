"""Staff capabilities as Django permissions (see apps/core/capabilities.py)."""

from __future__ import annotations

from django.db import models


class Capability(models.Model):
    """Anchor for the staff capability permissions; it has no table and no rows."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("audit_read", "Read and export the audit log"),
            ("access_admin", "Manage roles, users' roles and traits, access requests, sessions"),
            ("integration_admin", "Enroll and manage integrations and run syncs"),
        ]

    def __str__(self) -> str:
        return f"capability {self.pk}"
