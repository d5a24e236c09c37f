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


class AutomationTokenForm(forms.Form):
    """A new automation token: name, scopes and lifetime (the owner is the signed-in admin)."""

    name = forms.CharField(max_length=64, help_text="e.g. ci-roles or siem-poller")
    scopes = forms.MultipleChoiceField(choices=(), widget=forms.CheckboxSelectMultiple)
    days = forms.IntegerField(min_value=1, max_value=366, initial=90, label="Lifetime (days)")

    def __init__(self, *args: object, **kwargs: object) -> None:
        from apps.api.scopes import SCOPES

        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["scopes"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(scope, scope) for scope in sorted(SCOPES)]
