"""In-memory Roles Anywhere resources: trust anchors, profiles, CRLs, subjects and tags."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import iso

DEFAULT_ATTRIBUTE_MAPPINGS: list[dict[str, Any]] = [
    {"certificateField": "x509Subject", "mappingRules": [{"specifier": "*"}]},
    {"certificateField": "x509Issuer", "mappingRules": [{"specifier": "*"}]},
    {
        "certificateField": "x509SAN",
        "mappingRules": [{"specifier": "DNS"}, {"specifier": "URI"}, {"specifier": "Name/*"}],
    },
]


_STABLE_NAMESPACE = uuid.UUID("6f1d3b0e-2f52-4d8a-9a57-5a8c1f0e7b10")


def new_id(seed: str | None = None, taken: Container[str] = ()) -> str:
    """Return a resource id (a UUID, as AWS uses).

    With a ``seed`` (kind, region and name) the id is derived from it, so the same resource
    created again after a restart has the same ARN: the demo re-creates the sandbox's state on
    every start and the portal's stored ARNs stay valid. Duplicate names get the next free id.
    """
    if seed is None:
        return str(uuid.uuid4())
    for attempt in range(1000):
        candidate = str(uuid.uuid5(_STABLE_NAMESPACE, f"{seed}#{attempt}"))
        if candidate not in taken:
            return candidate
    return str(uuid.uuid4())


@dataclass
class TrustAnchor:
    """A Roles Anywhere trust anchor (CERTIFICATE_BUNDLE source: the PEM certificates)."""

    id: str
    arn: str
    name: str
    source_type: str
    source_data: dict[str, str]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    crl_dp_revocation_enabled: bool = False
    notification_settings: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """TrustAnchorDetail as on the wire."""
        return {
            "trustAnchorId": self.id,
            "trustAnchorArn": self.arn,
            "name": self.name,
            "source": {"sourceType": self.source_type, "sourceData": dict(self.source_data)},
            "enabled": self.enabled,
            "crlDpRevocationEnabled": self.crl_dp_revocation_enabled,
            "notificationSettings": [dict(s) for s in self.notification_settings],
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass
class Profile:
    """A Roles Anywhere profile: the roles it may hand out and how sessions look."""

    id: str
    arn: str
    name: str
    role_arns: list[str]
    enabled: bool
    duration_seconds: int
    accept_role_session_name: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    session_policy: str | None = None
    managed_policy_arns: list[str] = field(default_factory=list)
    require_instance_properties: bool = False
    attribute_mappings: list[dict[str, Any]] = field(
        default_factory=lambda: [dict(m) for m in DEFAULT_ATTRIBUTE_MAPPINGS]
    )

    def to_json(self) -> dict[str, Any]:
        """ProfileDetail as on the wire."""
        detail: dict[str, Any] = {
            "profileId": self.id,
            "profileArn": self.arn,
            "name": self.name,
            "roleArns": list(self.role_arns),
            "enabled": self.enabled,
            "durationSeconds": self.duration_seconds,
            "acceptRoleSessionName": self.accept_role_session_name,
            "requireInstanceProperties": self.require_instance_properties,
            "managedPolicyArns": list(self.managed_policy_arns),
            "attributeMappings": [
                {
                    "certificateField": m["certificateField"],
                    "mappingRules": [dict(r) for r in m["mappingRules"]],
                }
                for m in self.attribute_mappings
            ],
            "createdBy": self.created_by,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }
        if self.session_policy is not None:
            detail["sessionPolicy"] = self.session_policy
        return detail


@dataclass
class Crl:
    """An imported certificate revocation list, attached to one trust anchor."""

    id: str
    arn: str
    name: str
    data: bytes
    trust_anchor_arn: str
    enabled: bool
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """CrlDetail as on the wire (crlData is a blob: base64)."""
        return {
            "crlId": self.id,
            "crlArn": self.arn,
            "name": self.name,
            "crlData": base64.b64encode(self.data).decode("ascii"),
            "trustAnchorArn": self.trust_anchor_arn,
            "enabled": self.enabled,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass
class Subject:
    """The Subject resource CreateSession keeps per certificate subject DN."""

    id: str
    arn: str
    x509_subject: str
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime
    credentials: list[dict[str, Any]] = field(default_factory=list)
    instance_properties: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """SubjectSummary as on the wire."""
        return {
            "subjectArn": self.arn,
            "subjectId": self.id,
            "enabled": True,
            "x509Subject": self.x509_subject,
            "lastSeenAt": iso(self.last_seen_at),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }

    def to_json(self) -> dict[str, Any]:
        """SubjectDetail as on the wire."""
        detail = self.summary()
        detail["credentials"] = [dict(c) for c in self.credentials]
        detail["instanceProperties"] = [dict(p) for p in self.instance_properties]
        return detail


class RolesAnywhereState:
    """Every Roles Anywhere resource of the sandbox, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.trust_anchors: dict[str, TrustAnchor] = {}
        self.profiles: dict[str, Profile] = {}
        self.crls: dict[str, Crl] = {}
        self.subjects: dict[str, Subject] = {}
        self.tags: dict[str, dict[str, str]] = {}
        # Every session CreateSession created (serial, role, session name), in order: what
        # CloudTrail would show, so tests can compare AWS's side with Rolegate's records.
        self.issued_sessions: list[dict[str, str]] = []
        # Request context keys of the sessions CreateSession issued, by access key id:
        # aws:SourceIdentity and aws:TokenIssueTime, as AWS attaches them to every request.
        self.session_contexts: dict[str, dict[str, str]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the lock (for the sandbox's state file)."""
        return {key: value for key, value in self.__dict__.items() if key != "lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    def restore(self, other: RolesAnywhereState) -> None:
        """Take over every resource of ``other`` (a state read back from disk)."""
        with self.lock:
            for key, value in other.__getstate__().items():
                setattr(self, key, value)

    def clear(self) -> None:
        """Forget every resource."""
        with self.lock:
            self.session_contexts.clear()
            self.trust_anchors.clear()
            self.profiles.clear()
            self.crls.clear()
            self.subjects.clear()
            self.issued_sessions.clear()
            self.tags.clear()

    def trust_anchor_by_arn(self, arn: str) -> TrustAnchor | None:
        """Return the trust anchor with this ARN, if any."""
        with self.lock:
            return next((t for t in self.trust_anchors.values() if t.arn == arn), None)

    def profile_by_arn(self, arn: str) -> Profile | None:
        """Return the profile with this ARN, if any."""
        with self.lock:
            return next((p for p in self.profiles.values() if p.arn == arn), None)

    def crls_for(self, trust_anchor_arn: str) -> list[Crl]:
        """Return the CRLs imported for a trust anchor."""
        with self.lock:
            return [c for c in self.crls.values() if c.trust_anchor_arn == trust_anchor_arn]

    def resource_exists(self, arn: str) -> bool:
        """Whether a taggable resource with this ARN exists."""
        with self.lock:
            resources: list[TrustAnchor | Profile | Crl] = [
                *self.trust_anchors.values(),
                *self.profiles.values(),
                *self.crls.values(),
            ]
            return any(r.arn == arn for r in resources)
