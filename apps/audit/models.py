"""Append-only audit events."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import models
from django.utils import timezone


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or remove an audit event."""


_Model = TypeVar("_Model", bound=models.Model)


class AppendOnlyQuerySet(models.QuerySet[_Model]):
    """Querysets that refuse bulk updates and deletes."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    """One recorded decision or change: who did what to which target, and how it ended."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        DENIED = "denied"
        ERROR = "error"
        # Recorded before an outside call whose result is not known yet (an issuance intent);
        # the outcome follows as its own event naming the pending one.
        PENDING = "pending"

    time = models.DateTimeField(default=timezone.now, db_index=True)
    event_type = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    # No foreign key: the event must outlive the user, and SET_NULL would be an update.
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=200, db_index=True)
    target_kind = models.CharField(max_length=64, blank=True)
    target_name = models.CharField(max_length=300, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet["AuditEvent"].as_manager()

    class Meta:
        ordering = ("-time", "-id")
        indexes = [
            models.Index(fields=["event_type", "time"]),
            models.Index(fields=["actor_name", "time"]),
        ]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.event_type} {self.outcome} {self.actor_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")

    @property
    def current_type(self) -> str:
        """The event type in today's vocabulary (rows from before it keep their stored one)."""
        from apps.audit.events import current_name

        return current_name(self.event_type)


class AuditChainLink(models.Model):
    """One link of the tamper-evident hash chain over audit events.

    Links are appended by the sealer in their own order (not the events' id order), so a slow
    transaction that commits an older event id late is simply sealed in a later link. Each link
    hashes the previous link's hash with the event's canonical hash: editing or deleting an event,
    or removing a link, breaks the chain at that point.
    """

    event_id = models.BigIntegerField(unique=True)
    event_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    # Which audit key sealed the link (HMAC-SHA256); empty for links sealed before keys existed.
    key_id = models.CharField(max_length=32, blank=True, default="")
    sealed_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet["AuditChainLink"].as_manager()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"link {self.id} -> event {self.event_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit chain links are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit chain links are append-only")


class AuditSealLock(models.Model):
    """A single row locked while sealing, so two sealers never extend the chain at once."""

    name = models.CharField(max_length=32, unique=True)

    def __str__(self) -> str:
        return self.name
