"""The `role` resource kind for ``manage.py create/get/rm``."""

from __future__ import annotations

from apps.access import selectors, services
from apps.access.models import Role
from apps.core.identity import Actor
from apps.core.registry import (
    Document,
    ResourceError,
    ResourceExists,
    ResourceKind,
    ResourceNotFound,
    register,
)
from rbac.spec import RoleSpecError

_DOCUMENT_KEYS = {"kind", "version", "metadata", "spec"}


def _spec_error(error: RoleSpecError) -> ResourceError:
    # Each FieldError already names its YAML path, so the message lists them all.
    return ResourceError("; ".join(str(e) for e in error.errors))


def apply(document: Document, *, actor: Actor, force: bool) -> str:
    """Create or replace a role from its YAML document."""
    name = str(document["metadata"]["name"])
    unknown = set(document) - _DOCUMENT_KEYS
    if unknown:
        raise ResourceError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    version = str(document.get("version") or "v7")
    try:
        services.role_create(
            actor=actor, name=name, spec=document.get("spec"), force=force, version=version
        )
    except RoleSpecError as error:
        raise _spec_error(error) from None
    except services.RoleExists as error:
        raise ResourceExists(str(error)) from None
    return name


def serialize(role: Role) -> Document:
    """A role as a YAML-ready document (what `create --force` accepts back)."""
    return {
        "kind": "role",
        "version": role.version,
        "metadata": {"name": role.name, "revision": role.revision},
        "spec": role.spec,
    }


def get(name: str) -> Document:
    """Serialize one role."""
    role = selectors.role_get(name)
    if role is None:
        raise ResourceNotFound(f"role {name!r} not found")
    return serialize(role)


def list_all() -> list[Document]:
    """Serialize every role."""
    return [serialize(role) for role in selectors.role_list()]


def delete(name: str, *, actor: Actor) -> None:
    """Delete a role."""
    try:
        services.role_delete(actor=actor, name=name)
    except services.RoleNotFound as error:
        raise ResourceNotFound(str(error)) from None
    except services.RoleInUse as error:
        raise ResourceError(str(error)) from None


def validate_user_role_names(names: list[str]) -> None:
    """Refuse user documents that name roles which do not exist."""
    missing = sorted(set(names) - selectors.role_names_existing(names))
    if missing:
        raise ResourceError(
            f"unknown role(s): {', '.join(missing)} (create them first, or list them earlier "
            "in the same file)",
            field="spec.roles",
        )


register(
    ResourceKind(
        kind="role",
        versions=services.ROLE_VERSIONS,
        apply=apply,
        get=get,
        list=list_all,
        delete=delete,
    )
)
