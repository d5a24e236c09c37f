"""Forms of the enrollment wizard: each step's input, validated on the server."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.core.registry import ResourceError
from apps.integrations.enrollment.policies import (
    DEFAULT_SYNC_PROFILE_NAME,
    DEFAULT_SYNC_ROLE_NAME,
    DEFAULT_TRUST_ANCHOR_NAME,
    EnrollmentNames,
    default_names,
)
from apps.integrations.enrollment.script import parse_script_output
from apps.integrations.enrollment.wizard import FILTER_ALL, FILTER_SOME, integration_name_error
from apps.integrations.spec import (
    MAX_FILTERS,
    IntegrationSpec,
    compile_profile_name_filters,
    make_integration_spec,
)

ARN_FIELDS = ("trust_anchor_arn", "profile_arn", "role_arn")
ARN_LABELS = {
    "trust_anchor_arn": "trust anchor",
    "profile_arn": "sync profile",
    "role_arn": "sync role",
}


class NameForm(forms.Form):
    """Step 1: the integration name and, under "Advanced", the AWS resource names."""

    name = forms.CharField(
        max_length=63,
        required=False,
        help_text="Lowercase letters, digits, '.', '_' or '-', e.g. aws-prod.",
    )
    # Blank means the integration's default, "<prefix>-<integration name>": unique per
    # integration, so a second integration in the same account works with the defaults.
    trust_anchor = forms.CharField(
        max_length=255,
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": f"{DEFAULT_TRUST_ANCHOR_NAME}-<integration name>",
                "data-default-prefix": DEFAULT_TRUST_ANCHOR_NAME,
            }
        ),
    )
    sync_role = forms.CharField(
        max_length=64,
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": f"{DEFAULT_SYNC_ROLE_NAME}-<integration name>",
                "data-default-prefix": DEFAULT_SYNC_ROLE_NAME,
            }
        ),
    )
    sync_profile = forms.CharField(
        max_length=255,
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": f"{DEFAULT_SYNC_PROFILE_NAME}-<integration name>",
                "data-default-prefix": DEFAULT_SYNC_PROFILE_NAME,
            }
        ),
    )
    session_revocation = forms.BooleanField(
        required=False,
        label="Revoke live AWS sessions when access ends",
        help_text=(
            "The kill switch: Rolegate keeps an inline Deny policy (RolegateRevokedSessions) on "
            "the profiles' roles, so ending a grant or deactivating a user ends their sessions "
            "within seconds. The set-up then grants the sync role iam:GetRolePolicy, "
            "iam:PutRolePolicy and iam:DeleteRolePolicy on roles."
        ),
    )

    def clean_name(self) -> str:
        """Format and uniqueness."""
        name: str = self.cleaned_data.get("name", "")
        problem = integration_name_error(name)
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean(self) -> dict[str, Any]:
        """The AWS names must be valid for their AWS resource type; blank means the default."""
        data = super().clean() or {}
        defaults = default_names(data.get("name") or "")
        for key, default in defaults.items():
            if key in data and not data[key]:
                data[key] = default
        names = EnrollmentNames(
            integration=data.get("name") or "x",
            trust_anchor=data.get("trust_anchor") or "",
            sync_role=data.get("sync_role") or "",
            sync_profile=data.get("sync_profile") or "",
        )
        for field, problem in names.errors().items():
            if field not in self.errors:
                self.add_error(field, problem[0].upper() + problem[1:] + ".")
        return data


class ConnectForm(forms.Form):
    """Step 3: the script output, or the three ARNs typed one by one."""

    script_output = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="Paste everything the script printed; Rolegate finds the three ARNs in it.",
    )
    trust_anchor_arn = forms.CharField(required=False, max_length=200, label="Trust anchor ARN")
    profile_arn = forms.CharField(required=False, max_length=200, label="Sync profile ARN")
    role_arn = forms.CharField(required=False, max_length=2048, label="Sync role ARN")

    def __init__(self, *args: Any, integration_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.integration_name = integration_name
        self.spec: IntegrationSpec | None = None

    def clean(self) -> dict[str, Any]:
        """Take the ARNs from the output when pasted, then parse them strictly together."""
        data = super().clean() or {}
        output = data.get("script_output") or ""
        if output.strip():
            found = parse_script_output(output)
            missing = [ARN_LABELS[key] for key in ARN_FIELDS if key not in found]
            if missing:
                self.add_error(
                    "script_output",
                    "The output has no "
                    + " and no ".join(missing)
                    + " ARN. Paste everything between the two ===== lines the script printed.",
                )
                return data
            data.update(found)
        for key in ARN_FIELDS:
            if not data.get(key):
                self.add_error(key, f"Enter the {ARN_LABELS[key]} ARN, or paste the script output.")
        if self.errors:
            return data
        try:
            self.spec = make_integration_spec(
                name=self.integration_name,
                trust_anchor_arn=data["trust_anchor_arn"],
                sync_enabled=True,
                sync_profile_arn=data["profile_arn"],
                sync_role_arn=data["role_arn"],
            )
        except ResourceError as error:
            field = next((key for key in ARN_FIELDS if (error.field or "").endswith(key)), None)
            message = error.reason
            if field is None:
                raise forms.ValidationError(message) from None
            target = "script_output" if output.strip() else field
            prefix = f"{ARN_LABELS[field].capitalize()} ARN: " if target == "script_output" else ""
            self.add_error(target, f"{prefix}{message}")
        return data


class ProfilesForm(forms.Form):
    """Step 4: sync every profile, or only those matching filters."""

    mode = forms.ChoiceField(
        choices=[
            (FILTER_ALL, "All profiles (except Rolegate's own sync profiles)"),
            (FILTER_SOME, "Only profiles matching filters"),
        ],
        widget=forms.RadioSelect,
        initial=FILTER_ALL,
    )
    filters = forms.CharField(
        required=False,
        max_length=MAX_FILTERS * 520,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One per line: a glob (Team-*) or a regular expression (^Team-[AB]$). "
        "Case-sensitive; a profile is synced when any filter matches its name.",
    )

    def clean(self) -> dict[str, Any]:
        """Compile the filters with the one label matcher; "all" saves the `*` filter."""
        data = super().clean() or {}
        lines = [line.strip() for line in (data.get("filters") or "").splitlines()]
        lines = [line for line in lines if line]
        if data.get("mode") == FILTER_SOME:
            if not lines:
                self.add_error("filters", "Enter at least one filter, or choose all profiles.")
                return data
            if len(lines) > MAX_FILTERS:
                self.add_error("filters", f"At most {MAX_FILTERS} filters are allowed.")
                return data
            try:
                compile_profile_name_filters(lines)
            except ResourceError as error:
                index = (error.field or "").rsplit("[", 1)[-1].rstrip("]")
                line = int(index) + 1 if index.isdigit() else None
                where = f"Line {line}: " if line else ""
                self.add_error("filters", f"{where}{error.reason}")
                return data
            data["filter_list"] = lines
        else:
            data["filter_list"] = ["*"]
        return data
