"""Roles Anywhere control plane: trust anchors, profiles, CRLs, subjects, tags."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509

from .clock import Clock
from .errors import ApiError, not_found, too_many_tags, validation
from .state import Crl, Profile, RolesAnywhereState, TrustAnchor, new_id

DEFAULT_PAGE_SIZE = 50
MAX_TAGS = 200
MAX_CRLS_PER_TRUST_ANCHOR = 2
MAX_CERTIFICATES_PER_TRUST_ANCHOR = 2
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_ARN_ID_RE = re.compile(
    r"arn:aws(?:-[a-z-]+)?:rolesanywhere:[^:]*:[0-9]*:(?:trust-anchor|profile|crl|subject)/(.+)\Z"
)

T = TypeVar("T")


@dataclass
class CallContext:
    """Who calls, where, and the sandbox state the call works on."""

    state: RolesAnywhereState
    clock: Clock
    region: str
    account: str
    partition: str
    page_limit: int | None = None

    def arn(self, kind: str, resource_id: str) -> str:
        """Build a Roles Anywhere ARN in this caller's account and region."""
        return (
            f"arn:{self.partition}:rolesanywhere:{self.region}:{self.account}:{kind}/{resource_id}"
        )


Handler = Callable[[CallContext, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def handler(operation: str) -> Callable[[Handler], Handler]:
    """Register a handler for a control-plane operation."""

    def register(function: Handler) -> Handler:
        HANDLERS[operation] = function
        return function

    return register


def resource_arn_for(ctx: CallContext, operation: str, params: dict[str, Any]) -> str:
    """The resource an operation acts on, for IAM authorization (`*` for list/create)."""
    if "resourceArn" in params:
        return str(params["resourceArn"])
    for key, kind in (
        ("trustAnchorId", "trust-anchor"),
        ("profileId", "profile"),
        ("crlId", "crl"),
        ("subjectId", "subject"),
    ):
        if key in params:
            value = str(params[key])
            return value if value.startswith("arn:") else ctx.arn(kind, value)
    if operation == "ImportCrl":
        return str(params.get("trustAnchorArn", "*"))
    return "*"


# -- helpers ------------------------------------------------------------------------------


def _resolve_id(identifier: str) -> str:
    found = _ARN_ID_RE.match(identifier)
    return found.group(1) if found else identifier


def _lookup(collection: dict[str, T], identifier: str, label: str) -> T:
    found = collection.get(_resolve_id(identifier))
    if found is None:
        raise not_found(f"{label} not found: {identifier}")
    return found


def _page(
    ctx: CallContext, items: Sequence[T], params: dict[str, Any]
) -> tuple[list[T], str | None]:
    size = params.get("pageSize") or DEFAULT_PAGE_SIZE
    if size < 1:
        raise validation("pageSize must be at least 1")
    if ctx.page_limit is not None:
        size = min(size, ctx.page_limit)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii"))
        except (ValueError, binascii.Error, UnicodeError):
            raise validation("Invalid nextToken") from None
        if start < 0 or start > len(items):
            raise validation("Invalid nextToken")
    page = list(items[start : start + size])
    end = start + len(page)
    next_token = None
    if end < len(items):
        next_token = base64.urlsafe_b64encode(str(end).encode("ascii")).decode("ascii")
    return page, next_token


def _in_scope(ctx: CallContext, arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 4 and parts[3] == ctx.region and parts[4] == ctx.account


def _set_tags(ctx: CallContext, arn: str, tags: list[dict[str, str]]) -> None:
    current = ctx.state.tags.setdefault(arn, {})
    merged = dict(current)
    for tag in tags:
        merged[tag["key"]] = tag["value"]
    if len(merged) > MAX_TAGS:
        raise too_many_tags(f"A resource can have at most {MAX_TAGS} tags")
    current.clear()
    current.update(merged)


def parse_certificate_bundle(pem: str) -> list[x509.Certificate]:
    """Parse a trust anchor's PEM bundle, insisting on CA certificates as AWS does."""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode("utf-8"))
    except ValueError:
        raise validation("x509CertificateData must contain PEM certificates") from None
    if len(certificates) > MAX_CERTIFICATES_PER_TRUST_ANCHOR:
        raise validation(
            f"A trust anchor holds at most {MAX_CERTIFICATES_PER_TRUST_ANCHOR} certificates"
        )
    for certificate in certificates:
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            raise validation(
                "Trust anchor certificates must have basicConstraints CA:true"
            ) from None
        if not constraints.value.ca:
            raise validation("Trust anchor certificates must have basicConstraints CA:true")
    return certificates


def _source(params: dict[str, Any]) -> tuple[str, dict[str, str]]:
    source = params["source"]
    source_type = source.get("sourceType")
    data = source.get("sourceData") or {}
    if source_type is None:
        raise validation("source.sourceType is required")
    if source_type == "CERTIFICATE_BUNDLE":
        pem = data.get("x509CertificateData")
        if not pem:
            raise validation("sourceData.x509CertificateData is required for CERTIFICATE_BUNDLE")
        parse_certificate_bundle(pem)
        return source_type, {"x509CertificateData": pem}
    if source_type == "AWS_ACM_PCA":
        arn = data.get("acmPcaArn")
        if not arn:
            raise validation("sourceData.acmPcaArn is required for AWS_ACM_PCA")
        return source_type, {"acmPcaArn": arn}
    return source_type, {}


def _parse_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise validation("crlData must be a PEM-encoded X.509 CRL") from None


def _touch(resource: TrustAnchor | Profile | Crl, now: datetime) -> None:
    resource.updated_at = now


# -- trust anchors ------------------------------------------------------------------------


@handler("CreateTrustAnchor")
def create_trust_anchor(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateTrustAnchor: disabled unless `enabled` is true."""
    source_type, source_data = _source(params)
    now = ctx.clock.now()
    resource_id = new_id(f"trust-anchor:{ctx.region}:{params['name']}", ctx.state.trust_anchors)
    anchor = TrustAnchor(
        id=resource_id,
        arn=ctx.arn("trust-anchor", resource_id),
        name=params["name"],
        source_type=source_type,
        source_data=source_data,
        enabled=bool(params.get("enabled", False)),
        created_at=now,
        updated_at=now,
        crl_dp_revocation_enabled=bool(params.get("crlDpRevocationEnabled", False)),
        notification_settings=_notification_settings(params.get("notificationSettings") or []),
    )
    with ctx.state.lock:
        _set_tags(ctx, anchor.arn, params.get("tags") or [])
        ctx.state.trust_anchors[resource_id] = anchor
    return {"trustAnchor": anchor.to_json()}


def _notification_settings(settings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for setting in settings:
        result.append(
            {
                "enabled": setting["enabled"],
                "event": setting["event"],
                "threshold": setting.get("threshold", 45),
                "channel": setting.get("channel", "ALL"),
                "configuredBy": "rolesanywhere.amazonaws.com",
            }
        )
    return result


@handler("UpdateTrustAnchor")
def update_trust_anchor(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateTrustAnchor: name, source, crlDpRevocationEnabled."""
    with ctx.state.lock:
        anchor = _lookup(ctx.state.trust_anchors, params["trustAnchorId"], "Trust anchor")
        if "source" in params:
            anchor.source_type, anchor.source_data = _source(params)
        if "name" in params:
            anchor.name = params["name"]
        if "crlDpRevocationEnabled" in params:
            anchor.crl_dp_revocation_enabled = params["crlDpRevocationEnabled"]
        _touch(anchor, ctx.clock.now())
        return {"trustAnchor": anchor.to_json()}


@handler("DeleteTrustAnchor")
def delete_trust_anchor(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteTrustAnchor (its CRLs go with it)."""
    with ctx.state.lock:
        anchor = _lookup(ctx.state.trust_anchors, params["trustAnchorId"], "Trust anchor")
        del ctx.state.trust_anchors[anchor.id]
        ctx.state.tags.pop(anchor.arn, None)
        for crl in ctx.state.crls_for(anchor.arn):
            del ctx.state.crls[crl.id]
            ctx.state.tags.pop(crl.arn, None)
        return {"trustAnchor": anchor.to_json()}


@handler("PutNotificationSettings")
def put_notification_settings(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutNotificationSettings: replace settings per event."""
    with ctx.state.lock:
        anchor = _lookup(ctx.state.trust_anchors, params["trustAnchorId"], "Trust anchor")
        by_event = {s["event"]: s for s in anchor.notification_settings}
        for setting in _notification_settings(params["notificationSettings"]):
            by_event[setting["event"]] = setting
        anchor.notification_settings = list(by_event.values())
        _touch(anchor, ctx.clock.now())
        return {"trustAnchor": anchor.to_json()}


@handler("ResetNotificationSettings")
def reset_notification_settings(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """ResetNotificationSettings: drop the named settings."""
    with ctx.state.lock:
        anchor = _lookup(ctx.state.trust_anchors, params["trustAnchorId"], "Trust anchor")
        events = {key["event"] for key in params["notificationSettingKeys"]}
        anchor.notification_settings = [
            s for s in anchor.notification_settings if s["event"] not in events
        ]
        _touch(anchor, ctx.clock.now())
        return {"trustAnchor": anchor.to_json()}


# -- profiles -----------------------------------------------------------------------------


@handler("CreateProfile")
def create_profile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateProfile: disabled unless `enabled` is true; 3600 s unless durationSeconds."""
    now = ctx.clock.now()
    resource_id = new_id(f"profile:{ctx.region}:{params['name']}", ctx.state.profiles)
    profile = Profile(
        id=resource_id,
        arn=ctx.arn("profile", resource_id),
        name=params["name"],
        role_arns=list(params["roleArns"]),
        enabled=bool(params.get("enabled", False)),
        duration_seconds=int(params.get("durationSeconds", 3600)),
        accept_role_session_name=bool(params.get("acceptRoleSessionName", False)),
        created_by=ctx.account,
        created_at=now,
        updated_at=now,
        session_policy=params.get("sessionPolicy"),
        managed_policy_arns=list(params.get("managedPolicyArns") or []),
        require_instance_properties=bool(params.get("requireInstanceProperties", False)),
    )
    with ctx.state.lock:
        _set_tags(ctx, profile.arn, params.get("tags") or [])
        ctx.state.profiles[resource_id] = profile
    return {"profile": profile.to_json()}


@handler("UpdateProfile")
def update_profile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateProfile."""
    fields = {
        "name": "name",
        "roleArns": "role_arns",
        "durationSeconds": "duration_seconds",
        "acceptRoleSessionName": "accept_role_session_name",
        "sessionPolicy": "session_policy",
        "managedPolicyArns": "managed_policy_arns",
    }
    with ctx.state.lock:
        profile = _lookup(ctx.state.profiles, params["profileId"], "Profile")
        for wire, attribute in fields.items():
            if wire in params:
                setattr(profile, attribute, params[wire])
        _touch(profile, ctx.clock.now())
        return {"profile": profile.to_json()}


@handler("PutAttributeMapping")
def put_attribute_mapping(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutAttributeMapping: replace the rules of one certificate field."""
    field = params["certificateField"]
    rules = [{"specifier": r["specifier"]} for r in params["mappingRules"]]
    with ctx.state.lock:
        profile = _lookup(ctx.state.profiles, params["profileId"], "Profile")
        others = [m for m in profile.attribute_mappings if m["certificateField"] != field]
        profile.attribute_mappings = [*others, {"certificateField": field, "mappingRules": rules}]
        _touch(profile, ctx.clock.now())
        return {"profile": profile.to_json()}


@handler("DeleteAttributeMapping")
def delete_attribute_mapping(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteAttributeMapping: drop some specifiers (or the whole field)."""
    field = params["certificateField"]
    specifiers = set(params.get("specifiers") or [])
    with ctx.state.lock:
        profile = _lookup(ctx.state.profiles, params["profileId"], "Profile")
        mappings = []
        for mapping in profile.attribute_mappings:
            if mapping["certificateField"] == field:
                if not specifiers:
                    continue
                rules = [r for r in mapping["mappingRules"] if r["specifier"] not in specifiers]
                mapping = {"certificateField": field, "mappingRules": rules}
            mappings.append(mapping)
        profile.attribute_mappings = mappings
        _touch(profile, ctx.clock.now())
        return {"profile": profile.to_json()}


# -- CRLs ---------------------------------------------------------------------------------


@handler("ImportCrl")
def import_crl(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """ImportCrl: PEM (or DER) CRL for a trust anchor; disabled unless `enabled` is true."""
    data: bytes = params["crlData"]
    _parse_crl(data)
    now = ctx.clock.now()
    resource_id = new_id()
    with ctx.state.lock:
        anchor = ctx.state.trust_anchor_by_arn(params["trustAnchorArn"])
        if anchor is None:
            raise not_found(f"Trust anchor not found: {params['trustAnchorArn']}")
        if len(ctx.state.crls_for(anchor.arn)) >= MAX_CRLS_PER_TRUST_ANCHOR:
            raise validation(f"A trust anchor can have at most {MAX_CRLS_PER_TRUST_ANCHOR} CRLs")
        crl = Crl(
            id=resource_id,
            arn=ctx.arn("crl", resource_id),
            name=params["name"],
            data=data,
            trust_anchor_arn=anchor.arn,
            enabled=bool(params.get("enabled", False)),
            created_at=now,
            updated_at=now,
        )
        _set_tags(ctx, crl.arn, params.get("tags") or [])
        ctx.state.crls[resource_id] = crl
    return {"crl": crl.to_json()}


@handler("UpdateCrl")
def update_crl(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateCrl: name and/or data."""
    if "crlData" in params:
        _parse_crl(params["crlData"])
    with ctx.state.lock:
        crl = _lookup(ctx.state.crls, params["crlId"], "CRL")
        if "name" in params:
            crl.name = params["name"]
        if "crlData" in params:
            crl.data = params["crlData"]
        _touch(crl, ctx.clock.now())
        return {"crl": crl.to_json()}


# -- subjects and tags --------------------------------------------------------------------


@handler("TagResource")
def tag_resource(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """TagResource."""
    arn = params["resourceArn"]
    with ctx.state.lock:
        if not ctx.state.resource_exists(arn):
            raise not_found(f"Resource not found: {arn}")
        _set_tags(ctx, arn, params["tags"])
    return {}


@handler("UntagResource")
def untag_resource(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """UntagResource."""
    arn = params["resourceArn"]
    with ctx.state.lock:
        if not ctx.state.resource_exists(arn):
            raise not_found(f"Resource not found: {arn}")
        tags = ctx.state.tags.setdefault(arn, {})
        for key in params["tagKeys"]:
            tags.pop(key, None)
    return {}


@handler("ListTagsForResource")
def list_tags_for_resource(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListTagsForResource (single page, as in AWS)."""
    arn = params["resourceArn"]
    with ctx.state.lock:
        if not ctx.state.resource_exists(arn):
            raise not_found(f"Resource not found: {arn}")
        tags = ctx.state.tags.get(arn, {})
        return {"tags": [{"key": k, "value": v} for k, v in tags.items()]}


# -- the uniform operations, from one table ---------------------------------------------------


@dataclass(frozen=True)
class Collection:
    """One kind of control-plane resource, as its Get/List/Enable/Disable/Delete see it."""

    noun: str  # in operation names: GetTrustAnchor, ListTrustAnchors
    key: str  # the JSON member of one: "trustAnchor"
    id_param: str  # "trustAnchorId"
    label: str  # in not-found messages
    items: Callable[[RolesAnywhereState], dict[str, Any]]
    listed: Callable[[Any], dict[str, Any]] = lambda resource: resource.to_json()
    toggles: bool = True  # Enable/Disable exist
    deletes: bool = True  # Delete exists (a trust anchor's is below: its CRLs go with it)


COLLECTIONS = (
    Collection(
        "TrustAnchor",
        "trustAnchor",
        "trustAnchorId",
        "Trust anchor",
        lambda state: state.trust_anchors,
        deletes=False,
    ),
    Collection("Profile", "profile", "profileId", "Profile", lambda state: state.profiles),
    Collection("Crl", "crl", "crlId", "CRL", lambda state: state.crls),
    Collection(
        "Subject",
        "subject",
        "subjectId",
        "Subject",
        lambda state: state.subjects,
        listed=lambda subject: subject.summary(),
        toggles=False,
        deletes=False,
    ),
)


def _get(kind: Collection) -> Handler:
    def run(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
        with ctx.state.lock:
            found = _lookup(kind.items(ctx.state), params[kind.id_param], kind.label)
            return {kind.key: found.to_json()}

    return run


def _list(kind: Collection) -> Handler:
    def run(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
        with ctx.state.lock:
            items = [r for r in kind.items(ctx.state).values() if _in_scope(ctx, r.arn)]
            page, token = _page(ctx, items, params)
            result: dict[str, Any] = {kind.key + "s": [kind.listed(r) for r in page]}
        if token:
            result["nextToken"] = token
        return result

    return run


def _set_enabled(kind: Collection, enabled: bool) -> Handler:
    def run(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
        with ctx.state.lock:
            found = _lookup(kind.items(ctx.state), params[kind.id_param], kind.label)
            found.enabled = enabled
            _touch(found, ctx.clock.now())
            return {kind.key: found.to_json()}

    return run


def _delete(kind: Collection) -> Handler:
    def run(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
        with ctx.state.lock:
            items = kind.items(ctx.state)
            found = _lookup(items, params[kind.id_param], kind.label)
            del items[found.id]
            ctx.state.tags.pop(found.arn, None)
            return {kind.key: found.to_json()}

    return run


for _kind in COLLECTIONS:
    HANDLERS[f"Get{_kind.noun}"] = _get(_kind)
    HANDLERS[f"List{_kind.noun}s"] = _list(_kind)
    if _kind.toggles:
        HANDLERS[f"Enable{_kind.noun}"] = _set_enabled(_kind, True)
        HANDLERS[f"Disable{_kind.noun}"] = _set_enabled(_kind, False)
    if _kind.deletes:
        HANDLERS[f"Delete{_kind.noun}"] = _delete(_kind)


def dispatch(ctx: CallContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one control-plane operation."""
    function = HANDLERS.get(operation)
    if function is None:
        raise ApiError("ValidationException", f"{operation} is not supported by the sandbox", 400)
    return function(ctx, params)
