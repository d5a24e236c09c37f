"""Just-in-time access requests: a user asks for roles for a while; reviewers approve or deny.

One row carries the whole life of a request, so "does this user hold a granted role now?" is one
indexed query: `pending → approved | denied | expired | cancelled`, then `approved → ended`. The
request's review deadline (how long reviewers have) and its access duration (how long the grant
lasts once approved) are separate, as peers' users asked.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class AccessRequest(models.Model):
    """A request for roles: who, which, why, for how long, and where it stands."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved (access granted)"
        DENIED = "denied", "Denied"
        EXPIRED = "expired", "Expired unreviewed"
        ENDED = "ended", "Access ended"
        CANCELLED = "cancelled", "Withdrawn by the requester"

    # Random ids: request ids appear in URLs and the CLI, and must not be enumerable.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests"
    )
    roles = models.JSONField(default=list)
    reason = models.TextField(blank=True, default="")
    # How long access lasts once approved (the grant), chosen by the requester within policy.
    duration = models.DurationField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # Thresholds are copied from the policy when the request is made, so editing a role later
    # does not change the rules of a review already under way.
    approvals_required = models.PositiveSmallIntegerField(default=1)
    denials_required = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    review_deadline = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    access_starts_at = models.DateTimeField(null=True, blank=True)
    access_ends_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    end_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            # extra_role_names: the user's approved, unexpired grants, at every decision.
            models.Index(
                fields=("requester", "access_ends_at"),
                condition=Q(state="approved"),
                name="access_request_active_grants",
            ),
            models.Index(fields=("state", "review_deadline"), name="access_request_state_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(approvals_required__gte=1) & Q(denials_required__gte=1),
                name="access_request_thresholds_positive",
            ),
            models.CheckConstraint(
                condition=~Q(state="approved")
                | (Q(access_starts_at__isnull=False) & Q(access_ends_at__isnull=False)),
                name="access_request_approved_has_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.short_id} {', '.join(self.roles)} for {self.requester_id} ({self.state})"

    @property
    def short_id(self) -> str:
        """The first 8 hex digits, for display; the CLI accepts the full id."""
        return self.id.hex[:8]

    @property
    def duration_text(self) -> str:
        """The access duration as written in policies (`4h`, `1h30m`)."""
        from rbac.spec import format_duration

        return format_duration(self.duration)

    def grant_active_at(self, now: datetime) -> bool:
        """True while the approved grant is in force at `now` (its end is exclusive)."""
        return (
            self.state == self.State.APPROVED
            and self.access_ends_at is not None
            and now < self.access_ends_at
        )


class AccessReview(models.Model):
    """One reviewer's decision on one request, with their comment."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        DENY = "deny", "Deny"

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_reviews"
    )
    # Copied from the request so the database itself refuses a self-review, whatever path
    # (web, API, admin, shell) tries to write one.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at",)
        constraints = [
            # Each reviewer counts once, even when two tabs or two clients submit together.
            models.UniqueConstraint(fields=("request", "reviewer"), name="access_review_once"),
            models.CheckConstraint(
                condition=~Q(reviewer=F("requester")), name="access_review_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.reviewer_id} on {self.request_id}"


class AccessGrant(models.Model):
    """One role granted to a user by an approved request, for its window.

    One row per role (not a JSON list) so the roles query of every access decision can include
    the user's grants as a plain subquery: one query, on PostgreSQL and on SQLite alike.
    """

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_grants"
    )
    role_name = models.CharField(max_length=64)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Set when the grant ends early or is marked ended by the beat task; decisions also compare
    # `ends_at` with the clock, so a grant never outlives its end.
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("starts_at",)
        indexes = [
            models.Index(
                fields=("user", "ends_at"),
                condition=Q(ended_at__isnull=True),
                name="access_grant_in_force",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=("request", "role_name"), name="access_grant_once"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="access_grant_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role_name} for {self.user_id} until {self.ends_at:%Y-%m-%d %H:%M}"
