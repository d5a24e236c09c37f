"""The role editor form: a field-by-field mode and a whole-document YAML mode."""

from __future__ import annotations

from typing import Any

import yaml
from django import forms

from apps.access.engine.spec import FieldError, RoleSpec, RoleSpecError
from apps.access.models import Role
from apps.access.services import role_validate
from apps.core import yaml_input

MODES = (("form", "Form"), ("yaml", "YAML"))

# Which form field shows the errors for which YAML path (longest prefix wins).
_FIELD_FOR_PATH = (
    ("metadata.name", "name"),
    ("version", "document"),
    ("spec.allow.app_labels", "allow_labels"),
    ("spec.allow.aws_role_arns", "allow_arns"),
    ("spec.deny.app_labels", "deny_labels"),
    ("spec.deny.aws_role_arns", "deny_arns"),
    ("spec.options.max_session_ttl", "max_session_ttl"),
)


def _labels_text(labels: dict[str, list[str]] | None) -> str:
    if not labels:
        return ""
    readable = {k: v[0] if len(v) == 1 else v for k, v in labels.items()}
    return yaml.safe_dump(readable, sort_keys=False, default_flow_style=False, width=1000)


def role_document(role: Role) -> dict[str, Any]:
    """The editable YAML document of a stored role."""
    return {
        "kind": "role",
        "version": role.version,
        "metadata": {"name": role.name},
        "spec": role.spec,
    }


def initial_for(role: Role) -> dict[str, Any]:
    """Form initial data from a stored role."""
    spec = role.spec or {}
    allow, deny = spec.get("allow") or {}, spec.get("deny") or {}
    return {
        "name": role.name,
        "mode": "form",
        "revision": role.revision,
        "allow_labels": _labels_text(allow.get("app_labels")),
        "allow_arns": "\n".join(allow.get("aws_role_arns") or []),
        "deny_labels": _labels_text(deny.get("app_labels")),
        "deny_arns": "\n".join(deny.get("aws_role_arns") or []),
        "max_session_ttl": (spec.get("options") or {}).get("max_session_ttl", ""),
        "document": yaml.safe_dump(role_document(role), sort_keys=False, width=1000),
    }


class RoleForm(forms.Form):
    """Parses the editor's input into (name, version, spec) and validates it with the service."""

    name = forms.CharField(max_length=63, required=False)
    mode = forms.ChoiceField(choices=MODES, initial="form", required=False)
    revision = forms.IntegerField(required=False, widget=forms.HiddenInput)
    allow_labels = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="YAML mapping, e.g. rolegate.dev/aws-roles-anywhere-profile-arn: '*'",
    )
    allow_arns = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One IAM role ARN or template per line, e.g. {{internal.aws_role_arns}}",
    )
    deny_labels = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})
    )
    deny_arns = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="ARNs, globs or ^regex$ to deny; empty with deny labels denies the whole app",
    )
    max_session_ttl = forms.CharField(
        required=False, max_length=16, help_text="e.g. 8h, 1h30m (15m to 12h); empty means 8h"
    )
    document = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"})
    )

    def __init__(self, *args: Any, role: Role | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role = role
        self.parsed: RoleSpec | None = None
        self.version = role.version if role else "v7"
        if role is not None:
            self.fields["name"].disabled = True
            self.fields["name"].initial = role.name

    def _yaml_field(self, field: str, text: str) -> Any:
        if not text.strip():
            return None
        try:
            return yaml_input.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "cannot be parsed"
            self.add_error(field, f"invalid YAML{where}: {problem}")
            return None

    def _spec_from_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        existing = (self.role.spec if self.role else {}) or {}
        spec: dict[str, Any] = {"allow": {}, "deny": {}}
        # Request settings have no form fields yet; keep whatever the YAML mode stored.
        for side in ("allow", "deny"):
            for key in ("request", "review_requests"):
                value = (existing.get(side) or {}).get(key)
                if value:
                    spec[side][key] = value
        for side in ("allow", "deny"):
            labels = self._yaml_field(f"{side}_labels", data.get(f"{side}_labels") or "")
            if labels is not None:
                spec[side]["app_labels"] = labels
            arns = [line.strip() for line in (data.get(f"{side}_arns") or "").splitlines()]
            if any(arns):
                spec[side]["aws_role_arns"] = [a for a in arns if a]
        ttl = (data.get("max_session_ttl") or "").strip()
        if ttl:
            spec["options"] = {"max_session_ttl": ttl}
        return spec

    def clean(self) -> dict[str, Any]:
        """Build the role from the chosen mode and attach every validation error to a field."""
        data = super().clean() or {}
        mode = data.get("mode") or "form"
        name = self.role.name if self.role else (data.get("name") or "").strip()
        if mode == "yaml":
            document = self._yaml_field("document", data.get("document") or "")
            if self.errors:
                return data
            if not isinstance(document, dict):
                self.add_error("document", "the YAML must be a `kind: role` document")
                return data
            if document.get("kind", "role") != "role":
                self.add_error("document", f"kind must be 'role', not {document.get('kind')!r}")
                return data
            metadata = document.get("metadata") or {}
            doc_name = metadata.get("name") if isinstance(metadata, dict) else None
            if self.role is not None and doc_name not in (None, self.role.name):
                self.add_error("document", "metadata.name cannot change; create a new role")
                return data
            name = self.role.name if self.role else str(doc_name or name)
            self.version = str(document.get("version") or self.version)
            spec = document.get("spec")
        else:
            spec = self._spec_from_fields(data)
            if self.errors:
                return data
        data["name"] = name
        try:
            self.parsed = role_validate(name=name, spec=spec, version=self.version)
        except RoleSpecError as exc:
            for error in exc.errors:
                self.add_error(self._field_for(error, mode), str(error))
        data["spec"] = spec
        return data

    @staticmethod
    def _field_for(error: FieldError, mode: str) -> str | None:
        if mode == "yaml":
            return "document"
        for prefix, field in _FIELD_FOR_PATH:
            if error.field.startswith(prefix):
                return field
        return None
