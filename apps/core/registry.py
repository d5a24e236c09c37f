"""The resource registry behind ``manage.py create/get/rm``.

Each app registers its kinds (``user``, ``role``, ``integration`` …) in a ``kinds.py`` module.
A kind turns a validated YAML document into one service call and serializes a stored resource
back into the same shape, so ``get`` output can be fed to ``create --force``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.apps import apps as django_apps
from django.db import transaction

from apps.core import yaml_input
from apps.core.errors import DomainError
from apps.core.identity import Actor

NAME_RE = re.compile(r"[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?\Z", re.ASCII)


class ResourceError(DomainError):
    """A resource document is invalid; the message names the field and the reason."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}" if field else message)


class ResourceNotFound(ResourceError):
    """The named resource does not exist."""

    code = "not_found"
    status = 404


class ResourceExists(ResourceError):
    """A resource of that kind and name exists and ``--force`` was not given."""

    code = "already_exists"
    status = 409


Document = dict[str, Any]


@dataclass(frozen=True)
class ResourceKind:
    """How one kind is created, read, listed and deleted."""

    kind: str
    versions: tuple[str, ...]
    apply: Callable[..., str]  # apply(document, *, actor, force) -> name; raises ResourceError
    get: Callable[[str], Document]
    list: Callable[[], list[Document]]
    delete: Callable[..., None]  # delete(name, *, actor); raises ResourceNotFound
    aliases: tuple[str, ...] = field(default=())
    name_re: re.Pattern[str] = NAME_RE
    name_rule: str = (
        "must be 1-63 lowercase letters, digits, '.', '_' or '-', starting and ending with "
        "a letter or digit"
    )


_REGISTRY: dict[str, ResourceKind] = {}


def register(kind: ResourceKind) -> ResourceKind:
    """Register a kind; the last registration of a name wins (module reloads in tests)."""
    for name in (kind.kind, *kind.aliases):
        _REGISTRY[name] = kind
    return kind


def registered_kinds() -> list[str]:
    """Names of the registered kinds, sorted."""
    return sorted({kind.kind for kind in _REGISTRY.values()})


def get_kind(name: str) -> ResourceKind:
    """Return the kind called ``name`` or raise a ResourceError listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(registered_kinds()) or "none"
        raise ResourceError(f"unknown kind {name!r} (known kinds: {known})", field="kind") from None


def autodiscover() -> None:
    """Import ``kinds`` from every installed Rolegate app so each registers itself."""
    for config in django_apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        try:
            importlib.import_module(f"{config.name}.kinds")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.kinds":
                raise


def load_documents(text: str) -> list[Document]:
    """Parse a multi-document YAML text; empty documents are skipped."""
    try:
        loaded = [doc for doc in yaml_input.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ResourceError(f"invalid YAML{where}: {problem}") from None
    if not loaded:
        raise ResourceError("no documents found")
    return loaded


def require_str(mapping: Mapping[str, Any], key: str, *, path: str, required: bool = True) -> str:
    """Return ``mapping[key]`` as a non-empty string or raise a field-named error."""
    value = mapping.get(key)
    if value is None:
        if required:
            raise ResourceError("is required", field=f"{path}{key}")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ResourceError(
            f"must be a non-empty string, got {type(value).__name__}", field=f"{path}{key}"
        )
    return value


def require_mapping(value: object, *, field: str) -> dict[str, Any]:
    """Return ``value`` when it is a mapping (None becomes empty), else raise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ResourceError(f"must be a mapping, got {type(value).__name__}", field=field)
    return value


def require_str_list(value: object, *, field: str) -> list[str]:
    """Return ``value`` as a list of strings (a single string becomes a one-item list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ResourceError("must be a list of strings", field=field)
    return list(value)


def document_header(document: object) -> tuple[ResourceKind, str]:
    """Validate kind, version and metadata.name; return the kind and the name."""
    if not isinstance(document, dict):
        raise ResourceError(f"a document must be a mapping, got {type(document).__name__}")
    kind_name = require_str(document, "kind", path="")
    kind = get_kind(kind_name)
    version = document.get("version")
    if version is not None and version not in kind.versions:
        raise ResourceError(
            f"unsupported version {version!r} for kind {kind.kind} "
            f"(supported: {', '.join(kind.versions)})",
            field="version",
        )
    metadata = require_mapping(document.get("metadata"), field="metadata")
    name = require_str(metadata, "name", path="metadata.")
    if not kind.name_re.match(name):
        raise ResourceError(f"{name!r} {kind.name_rule}", field="metadata.name")
    return kind, name


def apply_documents(
    documents: Iterable[Any], *, actor: Actor, force: bool = False
) -> list[tuple[str, str]]:
    """Create (or with ``force`` replace) every document in one transaction.

    An error in any document rolls back all of them and names the document's position.
    """
    applied: list[tuple[str, str]] = []
    with transaction.atomic():
        for index, document in enumerate(documents, start=1):
            try:
                kind, name = document_header(document)
                stored_name = kind.apply(document, actor=actor, force=force)
            except ResourceError as error:
                raise type(error)(f"document {index}: {error}", field=None) from None
            applied.append((kind.kind, stored_name or name))
    return applied


def parse_reference(reference: str) -> tuple[ResourceKind, str | None]:
    """Parse ``KIND`` or ``KIND/NAME``."""
    kind_name, _, name = reference.partition("/")
    kind = get_kind(kind_name.strip())
    return kind, (name.strip() or None)
