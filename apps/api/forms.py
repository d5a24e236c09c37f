"""Forms for the CLI browser pages."""

from __future__ import annotations

from django import forms

from apps.api.selectors import normalize_user_code


class DeviceDecisionForm(forms.Form):
    """The code shown by `rolegate login`, and whether to approve it."""

    code = forms.CharField(max_length=20, label="Code shown by rolegate login")
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")], required=False)

    def clean_code(self) -> str:
        """Accept any case and spacing; keep the canonical XXXX-XXXX form."""
        code = normalize_user_code(self.cleaned_data["code"])
        if len(code) != 9:
            raise forms.ValidationError("A code has 8 letters, like BCDF-GHJK.")
        return code
