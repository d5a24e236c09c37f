"""The ``user`` resource kind for ``manage.py create/get/rm``."""

from __future__ import annotations

from typing import Any

from apps.accounts import services
from apps.accounts.models import User
from apps.accounts.oidc import kinds as oidc_kinds  # noqa: F401 - registers kind oidc_connector
from apps.accounts.usernames import USERNAME_RE, USERNAME_RULE, username_problem
from apps.core.identity import Actor
from apps.core.registry import (
    Document,
    ResourceError,
    ResourceKind,
    ResourceNotFound,
    register,
    require_mapping,
    require_str_list,
)

_TRAIT_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")


def _parse_traits(value: object) -> dict[str, list[str]]:
    traits = require_mapping(value, field="spec.traits")
    parsed: dict[str, list[str]] = {}
    for name, values in traits.items():
        if not isinstance(name, str) or not name or not set(name) <= _TRAIT_NAME_CHARS:
            raise ResourceError(
                "trait names are letters, digits, '_', '-', '.', ':'", field=f"spec.traits.{name}"
            )
        parsed[name] = require_str_list(values, field=f"spec.traits.{name}")
    return parsed


def apply(document: Document, *, actor: Actor, force: bool) -> str:
    """Create or replace a user from its YAML document."""
    name = document["metadata"]["name"]
    problem = username_problem(name)
    if problem:
        raise ResourceError(problem, field="metadata.name")
    spec = require_mapping(document.get("spec"), field="spec")
    unknown = set(spec) - {"roles", "traits", "email", "is_staff"}
    if unknown:
        raise ResourceError(
            f"unknown field(s): {', '.join(sorted(map(str, unknown)))}", field="spec"
        )
    email = spec.get("email") or ""
    if not isinstance(email, str):
        raise ResourceError("must be a string", field="spec.email")
    is_staff = spec.get("is_staff")
    if is_staff is not None and not isinstance(is_staff, bool):
        raise ResourceError("must be true or false", field="spec.is_staff")
    services.user_apply(
        actor=actor,
        username=name,
        roles=require_str_list(spec.get("roles"), field="spec.roles"),
        traits=_parse_traits(spec.get("traits")),
        email=email,
        is_staff=is_staff,
        force=force,
    )
    return str(name)


def serialize(user: User) -> Document:
    """A user as a YAML-ready document."""
    spec: dict[str, Any] = {"roles": list(user.roles), "traits": dict(user.traits)}
    if user.email:
        spec["email"] = user.email
    if user.is_staff:
        spec["is_staff"] = True
    document: Document = {
        "kind": "user",
        "version": "v2",
        "metadata": {"name": user.username},
        "spec": spec,
    }
    if user.external_traits:
        document["status"] = {"external_traits": dict(user.external_traits)}
    return document


def get(name: str) -> Document:
    """Serialize one user."""
    user = User.objects.filter(username=name).first()
    if user is None:
        raise ResourceNotFound(f"user {name!r} not found")
    return serialize(user)


def list_all() -> list[Document]:
    """Serialize every user."""
    return [serialize(user) for user in User.objects.order_by("username")]


def delete(name: str, *, actor: Actor) -> None:
    """Delete a user."""
    services.user_delete(actor=actor, username=name)


register(
    ResourceKind(
        kind="user",
        versions=("v2", "v3"),
        apply=apply,
        get=get,
        list=list_all,
        delete=delete,
        name_re=USERNAME_RE,
        name_rule=USERNAME_RULE,
    )
)
