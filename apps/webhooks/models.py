"""Webhook endpoints, the deliveries queued for them, and each delivery attempt."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WebhookEndpoint(models.Model):
    """Where to POST which events, signed with a shared secret."""

    class PayloadFormat(models.TextChoices):
        JSON = "json", "Rolegate JSON"
        SLACK = "slack", "Slack incoming webhook"

    name = models.CharField(max_length=64, unique=True)
    url = models.URLField(max_length=2000)
    # Needed in clear to compute the HMAC; never shown again after creation, never logged.
    secret = models.CharField(max_length=200)
    event_types = models.JSONField(default=list)
    payload_format = models.CharField(
        max_length=8, choices=PayloadFormat.choices, default=PayloadFormat.JSON
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Deliveries that failed for good in a row (reset by any success).
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event to deliver to one endpoint (written with the event: an outbox row)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: when, what came back, how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    will_retry = models.BooleanField(default=False)

    class Meta:
        ordering = ("delivery", "number")

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
