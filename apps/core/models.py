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


class ManagedResource(models.Model):
    """The ownership marker of ``manage.py apply``: this resource is managed from ``source``.

    ``apply --prune --source S`` deletes only resources recorded here for S that its documents no
    longer name, so resources created on the web, by another source, or by ``create -f`` are
    never pruned.
    """

    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=100, db_index=True)
    applied_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="managed_resource_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} from {self.source}"
