"""The role editor form: a field-by-field mode and a whole-document YAML mode."""

from __future__ import annotations

import re
from typing import Any

import yaml
from django import forms

from apps.access.models import Role
from apps.access.services import role_validate
from apps.core import yaml_input
from rbac.spec import FieldError, RoleSpec, RoleSpecError

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
    ("spec.allow.request.roles", "request_roles"),
    ("spec.allow.request.max_duration", "request_max_duration"),
    ("spec.allow.request.reason", "request_reason_required"),
    ("spec.allow.request.thresholds", "request_approvals"),
    ("spec.allow.review_requests", "review_roles"),
)

# What people call each YAML path in an error message (longest prefix wins).
_HUMAN_PATHS = (
    ("metadata.name", "Name"),
    ("version", "Version"),
    ("spec.allow.app_labels", "Allow · app labels"),
    ("spec.allow.aws_role_arns", "Allow · AWS role ARNs"),
    ("spec.deny.app_labels", "Deny · app labels"),
    ("spec.deny.aws_role_arns", "Deny · AWS role ARNs"),
    ("spec.options.max_session_ttl", "Max session TTL"),
    ("spec.allow.request.roles", "Roles it may request"),
    ("spec.allow.request.max_duration", "Longest requested access"),
    ("spec.allow.request.reason", "Reason required"),
    ("spec.allow.request.thresholds", "Approvals needed"),
    ("spec.allow.request", "Access requests"),
    ("spec.allow.review_requests", "Roles whose requests it may review"),
    ("spec.deny.request", "Deny · access requests"),
    ("spec.deny.review_requests", "Deny · reviews"),
    ("spec.options", "Options"),
    ("spec", "Role"),
)
_INDEX_RE = re.compile(r"\[(\d+)\]")


def human_error(error: FieldError, *, with_field: bool = True) -> str:
    """An error message naming the field as the editor shows it, e.g. "Allow · AWS role ARNs,
    line 2: …" instead of ``spec.allow.aws_role_arns[1]: …``."""
    where = ""
    for prefix, label in _HUMAN_PATHS:
        if error.field == prefix or error.field.startswith((prefix + ".", prefix + "[")):
            rest = error.field[len(prefix) :]
            where = label if with_field else ""
            index = _INDEX_RE.match(rest)
            if index:
                line = f"line {int(index.group(1)) + 1}"
                where = f"{where}, {line}" if where else line.capitalize()
            elif rest.startswith("['"):
                key = rest[2:].split("']", 1)[0]
                where = f"{where}, label {key}" if where else f"Label {key}"
            break
    else:
        where = error.field
    message = error.message
    return f"{where}: {message}" if where else message[:1].upper() + message[1:]


STARTER_DOCUMENT = """\
kind: role
version: v7
metadata:
  name: example-read-only
spec:
  allow:
    # Which synced apps: label key -> value(s); '*' matches every app.
    app_labels:
      aws/env: dev
    # Exact IAM role ARNs, or templates such as '{{internal.aws_role_arns}}'.
    aws_role_arns:
      - arn:aws:iam::123456789012:role/ExampleReadOnlyAccess
    # Let holders ask for more roles, for a limited time:
    # request:
    #   roles: [example-admin]
    #   max_duration: 4h
    #   reason: {mode: required}
    # review_requests:
    #   roles: [example-*]
  deny:
    # Globs and regular expressions are allowed here, e.g. '*Admin*'.
    aws_role_arns: []
  options:
    max_session_ttl: 8h
"""


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
        **_request_initial(allow),
    }


def _request_initial(allow: dict[str, Any]) -> dict[str, Any]:
    request = allow.get("request") or {}
    review = allow.get("review_requests") or {}
    thresholds = request.get("thresholds") or [{}]
    first = thresholds[0] if isinstance(thresholds, list) and thresholds else thresholds
    approvals = first.get("approve", 1) if isinstance(first, dict) else 1
    return {
        "request_roles": "\n".join(request.get("roles") or []),
        "request_max_duration": request.get("max_duration", ""),
        "request_reason_required": (request.get("reason") or {}).get("mode") == "required",
        "request_approvals": approvals if request else None,
        "review_roles": "\n".join(review.get("roles") or []),
    }


def _lines(text: object) -> list[str]:
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


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
    request_roles = forms.CharField(
        required=False,
        label="Roles it may request",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="One role name or glob per line; holders may ask for these for a limited time.",
    )
    request_max_duration = forms.CharField(
        required=False,
        max_length=16,
        label="Longest requested access",
        help_text="e.g. 4h (5m to 168h); empty means 8h",
    )
    request_reason_required = forms.BooleanField(
        required=False, label="A reason is required with each request"
    )
    request_approvals = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10,
        label="Approvals needed",
        help_text="How many reviewers must approve (1 to 10); empty means 1",
    )
    review_roles = forms.CharField(
        required=False,
        label="Roles whose requests it may review",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="One role name or glob per line, e.g. example-*",
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
        # Deny-side request settings have no form fields; keep whatever the YAML mode stored.
        for key in ("request", "review_requests"):
            value = (existing.get("deny") or {}).get(key)
            if value:
                spec["deny"][key] = value
        stored_allow = existing.get("allow") or {}
        # A client that does not send the request fields (an older form, a script) keeps the
        # stored settings; the editor always sends them, so clearing them clears the settings.
        if "request_roles" in self.data:
            request = self._request_from_fields(data, stored_allow.get("request"))
        else:
            request = stored_allow.get("request") or {}
        if request:
            spec["allow"]["request"] = request
        if "review_roles" in self.data:
            review = {"roles": _lines(data.get("review_roles"))}
        else:
            review = stored_allow.get("review_requests") or {}
        if review.get("roles"):
            spec["allow"]["review_requests"] = review
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

    @staticmethod
    def _request_from_fields(data: dict[str, Any], stored: object) -> dict[str, Any]:
        roles = _lines(data.get("request_roles"))
        if not roles:
            return {}
        request: dict[str, Any] = {"roles": roles}
        duration = (data.get("request_max_duration") or "").strip()
        if duration:
            request["max_duration"] = duration
        if data.get("request_reason_required"):
            request["reason"] = {"mode": "required"}
        approvals = data.get("request_approvals") or 1
        # The deny threshold has no field: keep the stored one.
        old = (stored or {}).get("thresholds") if isinstance(stored, dict) else None
        denials = (
            old[0].get("deny", 1)
            if isinstance(old, list) and old and isinstance(old[0], dict)
            else 1
        )
        if approvals != 1 or denials != 1:
            request["thresholds"] = [{"approve": approvals, "deny": denials}]
        return request

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
                field = self._field_for(error, mode)
                # On a field, its label already says where; elsewhere, name the field.
                self.add_error(field, human_error(error, with_field=field in (None, "document")))
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
