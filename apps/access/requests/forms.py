"""Forms for asking for access and reviewing requests (policy checks live in the services)."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.access.requests.models import AccessRequest, AccessReview
from apps.access.requests.services import MAX_COMMENT_LENGTH, MAX_REASON_LENGTH
from rbac.spec import parse_duration


class AccessRequestForm(forms.Form):
    """Roles (from the ones the user may request), a reason and an access duration."""

    roles = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=())
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=MAX_REASON_LENGTH
    )
    duration = forms.CharField(
        required=False,
        max_length=16,
        help_text="How long the access lasts once approved, like 30m, 4h or 1h30m.",
    )

    def __init__(self, *args: Any, requestable: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Unknown names stay selectable so the service refuses them with the policy's words
        # (and an audit event) instead of a bare "not a valid choice".
        submitted = list(self.data.getlist("roles")) if hasattr(self.data, "getlist") else []
        names = list(dict.fromkeys([*requestable, *submitted]))
        roles_field = self.fields["roles"]
        assert isinstance(roles_field, forms.MultipleChoiceField)
        roles_field.choices = [(name, name) for name in names]

    def clean_duration(self) -> str:
        """Check the syntax here; the policy maximum is checked by the service."""
        value = str(self.cleaned_data.get("duration") or "").strip()
        if value:
            try:
                parse_duration(value)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        return value


class ReviewForm(forms.Form):
    """Approve or deny, with an optional comment."""

    decision = forms.ChoiceField(choices=AccessReview.Decision.choices)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=MAX_COMMENT_LENGTH
    )


class HistoryFilterForm(forms.Form):
    """Staff history filters."""

    user = forms.CharField(required=False, max_length=150)
    state = forms.ChoiceField(
        required=False, choices=[("", "any state"), *AccessRequest.State.choices]
    )
