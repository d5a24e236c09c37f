"""Audit log filters."""

from __future__ import annotations

from django import forms

from apps.audit.models import AuditEvent
from apps.audit.selectors import AuditFilter


class AuditFilterForm(forms.Form):
    """Validated query-string filters for the audit page and export."""

    event_type = forms.CharField(required=False, max_length=64, label="Type")
    actor = forms.CharField(required=False, max_length=200)
    outcome = forms.ChoiceField(required=False, choices=[("", "any"), *AuditEvent.Outcome.choices])
    target = forms.CharField(required=False, max_length=300)
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since >= until:
            raise forms.ValidationError("'since' must be before 'until'.")
        return cleaned

    def to_filter(self) -> AuditFilter:
        """The selector filter for valid data (call after is_valid())."""
        data = self.cleaned_data
        return AuditFilter(
            event_type=data.get("event_type") or "",
            actor=data.get("actor") or "",
            outcome=data.get("outcome") or "",
            target=data.get("target") or "",
            since=data.get("since"),
            until=data.get("until"),
        )
