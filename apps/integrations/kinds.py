"""The `integration` resource kind for ``manage.py create/get/rm``."""

from __future__ import annotations

from typing import Any

from apps.core.identity import Actor
from apps.core.registry import Document, ResourceError, ResourceKind, ResourceNotFound, register
from apps.integrations import selectors, services
from apps.integrations.models import Integration
from apps.integrations.spec import SUPPORTED_VERSIONS, integration_spec_from_document


def apply(document: Document, *, actor: Actor, force: bool) -> str:
    """Create or replace an integration from its YAML document (`status` is ignored)."""
    name = document["metadata"]["name"]
    existing = Integration.objects.filter(name=name).values_list("sub_kind", flat=True).first()
    sub_kind = document.get("sub_kind")
    if existing is not None and sub_kind is not None and sub_kind != existing:
        raise ResourceError(
            f"sub_kind cannot change (integration {name!r} is {existing!r}, got {sub_kind!r})",
            field="sub_kind",
        )
    spec = integration_spec_from_document(document)
    services.integration_apply(actor=actor, spec=spec, force=force)
    return str(name)


def serialize(integration: Integration) -> Document:
    """An integration as a YAML-ready document, with the last finished sync as status."""
    sync: dict[str, Any] = {"enabled": integration.sync_enabled}
    if integration.sync_profile_arn:
        sync["profile_arn"] = integration.sync_profile_arn
    if integration.sync_role_arn:
        sync["role_arn"] = integration.sync_role_arn
    sync["profile_accepts_role_session_name"] = integration.sync_profile_accepts_role_session_name
    sync["profile_name_filters"] = list(integration.profile_name_filters)
    document: Document = {
        "kind": "integration",
        "sub_kind": integration.sub_kind,
        "version": "v1",
        "metadata": {"name": integration.name},
        "spec": {
            "aws_ra": {
                "trust_anchor_arn": integration.trust_anchor_arn,
                "profile_sync_config": sync,
                "session_revocation": {"enabled": integration.session_revocation_enabled},
            }
        },
    }
    last = selectors.last_profile_sync(selectors.last_finished_run(integration))
    if last is not None:
        document["status"] = {"aws_ra": {"last_profile_sync": last}}
    revocation = selectors.last_session_revocation(integration)
    if revocation is not None:
        document.setdefault("status", {"aws_ra": {}})["aws_ra"]["last_session_revocation"] = (
            revocation
        )
    return document


def get(name: str) -> Document:
    """Serialize one integration."""
    integration = Integration.objects.filter(name=name).first()
    if integration is None:
        raise ResourceNotFound(f"integration {name!r} not found")
    return serialize(integration)


def list_all() -> list[Document]:
    """Serialize every integration."""
    return [serialize(integration) for integration in Integration.objects.order_by("name")]


def delete(name: str, *, actor: Actor) -> None:
    """Delete an integration and its apps."""
    services.integration_delete(actor=actor, name=name)


register(
    ResourceKind(
        kind="integration",
        versions=SUPPORTED_VERSIONS,
        apply=apply,
        get=get,
        list=list_all,
        delete=delete,
        aliases=("integrations",),
    )
)
