"""Input of the Resources page (search, label filters) and of the launch dialog."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.http import QueryDict

from apps.resources.queries import AllowedRole, parse_label_filter

MAX_LABEL_FILTERS = 20


class ResourceFilterForm(forms.Form):
    """Search words and `key=value` label filters from the query string."""

    q = forms.CharField(required=False, max_length=200, strip=True)

    def __init__(self, data: QueryDict) -> None:
        super().__init__(data)
        self.raw_labels = [raw[:300] for raw in data.getlist("label")[:MAX_LABEL_FILTERS]]

    @property
    def query(self) -> str:
        """The search words (empty when the form is invalid)."""
        return str(self.cleaned_data.get("q") or "") if self.is_valid() else ""

    @property
    def labels(self) -> list[tuple[str, str]]:
        """The label filters, malformed entries dropped, duplicates removed."""
        parsed = (parse_label_filter(raw) for raw in self.raw_labels)
        return list(dict.fromkeys(pair for pair in parsed if pair is not None))


class LaunchForm(forms.Form):
    """The launch dialog: IAM role (ARN or role name), console region, console path.

    The role is a free field on purpose: whether it is allowed is for the access engine to
    decide (and to audit), not for form validation to hide as a 400.
    """

    role = forms.CharField(
        max_length=2048, strip=True, error_messages={"required": "Pick an IAM role."}
    )
    region = forms.CharField(required=False, max_length=32, strip=True)
    destination = forms.CharField(required=False, max_length=2048, strip=True)


def resolve_role(value: str, roles: Sequence[AllowedRole]) -> str:
    """An ARN as it is; a bare role name → the allowed ARN with that name, if exactly one.

    Anything else is returned unchanged, for the access engine to refuse and audit.
    """
    if value.startswith("arn:"):
        return value
    matches = [role.arn for role in roles if role.name == value]
    return matches[0] if len(matches) == 1 else value
