"""Roles as code: plan and apply a set of resource documents, optionally pruning owned ones.

``plan_apply`` applies every document inside one transaction, each in its own savepoint, and
compares the resource as ``get`` serializes it before and after: that is the plan (create, change
with a field diff, unchanged). An unchanged resource's savepoint is rolled back, so it is not
rewritten and writes no audit event; a dry run rolls the whole transaction back, discarding the
after-commit work (session revocation pushes, audit seals) with it. The validation is the kinds'
own, so a plan refuses exactly what ``create -f`` and the editor refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from apps.core.identity import Actor
from apps.core.models import ManagedResource
from apps.core.registry import (
    Document,
    ResourceError,
    ResourceNotFound,
    document_header,
    get_kind,
    load_documents,
)

SOURCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,99}\Z")
CREATE, CHANGE, UNCHANGED, DELETE = "create", "change", "unchanged", "delete"


@dataclass(frozen=True)
class FieldChange:
    """One changed field, by its dotted path."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PlanEntry:
    """What applying does (or did) to one resource."""

    action: str
    kind: str
    name: str
    changes: list[FieldChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "changes": [
                {"path": c.path, "before": c.before, "after": c.after} for c in self.changes
            ],
        }


class _DryRun(Exception):
    """Raised to roll the dry run's transaction back."""


def read_path(path: str) -> list[Document]:
    """Every document of a YAML file, or of each ``*.yaml``/``*.yml`` file under a directory."""
    target = Path(path)
    if target.is_dir():
        files = sorted(
            p for p in target.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
        )
        if not files:
            raise ResourceError(f"{path} holds no .yaml or .yml files")
    else:
        files = [target]
    documents: list[Document] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise ResourceError(f"cannot read {file}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise ResourceError(f"{file} is not UTF-8 text") from None
        try:
            documents += load_documents(text)
        except ResourceError as error:
            raise ResourceError(f"{file}: {error}") from None
    return documents


def _comparable(document: Document | None) -> dict[str, Any]:
    if document is None:
        return {}
    # `status` is observed state and the revision a counter: neither is part of the desired spec.
    kept = {key: value for key, value in document.items() if key != "status"}
    metadata = dict(kept.get("metadata") or {})
    metadata.pop("revision", None)
    kept["metadata"] = metadata
    return kept


def _flatten(value: object, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key in sorted(value, key=str):
            flat.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def field_diff(before: Document | None, after: Document | None) -> list[FieldChange]:
    """Changed leaves between two documents, by dotted path."""
    old, new = _flatten(_comparable(before)), _flatten(_comparable(after))
    return [
        FieldChange(path, old.get(path), new.get(path))
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path)
    ]


def _current(kind_name: str, name: str) -> Document | None:
    try:
        return get_kind(kind_name).get(name)
    except ResourceNotFound:
        return None


def plan_apply(
    documents: list[Any],
    *,
    actor: Actor,
    source: str = "",
    prune: bool = False,
    dry_run: bool = False,
) -> list[PlanEntry]:
    """Apply (or with ``dry_run`` only plan) ``documents``; returns the plan, in document order.

    With ``source``, applied resources are recorded as managed from it (a resource another source
    manages is refused); ``prune`` then deletes the resources recorded for ``source`` that the
    documents no longer name, and nothing else.
    """
    if prune and not source:
        raise ResourceError("--prune needs --source: only resources managed from it are deleted")
    if source and not SOURCE_RE.match(source):
        raise ResourceError(
            "the source must be 1-100 letters, digits or . _ / : - (e.g. git:platform/roles)"
        )
    plan: list[PlanEntry] = []
    try:
        with transaction.atomic():
            named: set[tuple[str, str]] = set()
            for index, document in enumerate(documents, start=1):
                try:
                    plan.append(_apply_one(document, actor=actor, source=source, named=named))
                except ResourceError as error:
                    raise type(error)(f"document {index}: {error}") from None
            if prune:
                plan += _prune(source, named, actor=actor)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return plan


def _apply_one(
    document: object, *, actor: Actor, source: str, named: set[tuple[str, str]]
) -> PlanEntry:
    kind, name = document_header(document)
    if (kind.kind, name) in named:
        raise ResourceError(f"{kind.kind}/{name} appears twice")
    named.add((kind.kind, name))
    if source:
        owner = ManagedResource.objects.filter(kind=kind.kind, name=name).first()
        if owner is not None and owner.source != source:
            raise ResourceError(
                f"{kind.kind}/{name} is managed from {owner.source!r}, not {source!r}"
            )
    before = _current(kind.kind, name)
    savepoint = transaction.savepoint()
    stored = kind.apply(document, actor=actor, force=True) or name
    after = _current(kind.kind, stored)
    changes = field_diff(before, after)
    if before is None:
        action = CREATE
        transaction.savepoint_commit(savepoint)
    elif not changes:
        action = UNCHANGED
        transaction.savepoint_rollback(savepoint)
    else:
        action = CHANGE
        transaction.savepoint_commit(savepoint)
    if source:
        ManagedResource.objects.update_or_create(
            kind=kind.kind, name=stored, defaults={"source": source}
        )
    return PlanEntry(action, kind.kind, stored, changes if action == CHANGE else [])


def _prune(source: str, named: set[tuple[str, str]], *, actor: Actor) -> list[PlanEntry]:
    entries = []
    owned = ManagedResource.objects.filter(source=source).order_by("kind", "name")
    for marker in list(owned):
        if (marker.kind, marker.name) in named:
            continue
        before = _current(marker.kind, marker.name)
        if before is not None:
            try:
                get_kind(marker.kind).delete(marker.name, actor=actor)
            except ResourceError as error:
                raise ResourceError(f"cannot prune {marker.kind}/{marker.name}: {error}") from None
            entries.append(PlanEntry(DELETE, marker.kind, marker.name))
        marker.delete()
    return entries


def format_plan(plan: list[PlanEntry], *, dry_run: bool) -> list[str]:
    """The plan as lines for a terminal."""
    verbs = {
        CREATE: ("will be created", "has been created"),
        CHANGE: ("will be changed", "has been updated"),
        UNCHANGED: ("is unchanged", "is unchanged"),
        DELETE: ("will be deleted", "has been deleted"),
    }
    lines = []
    for entry in plan:
        verb = verbs[entry.action][0 if dry_run else 1]
        lines.append(f'{entry.kind} "{entry.name}" {verb}')
        for change in entry.changes:
            lines.append(f"    {change.path}: {change.before!r} -> {change.after!r}")
    counts = {action: sum(e.action == action for e in plan) for action in verbs}
    lines.append(
        ("Plan: " if dry_run else "Applied: ")
        + ", ".join(f"{counts[a]} to {a}" if dry_run else f"{counts[a]} {a}" for a in verbs)
        + (" (dry run: nothing was written)" if dry_run else "")
    )
    return lines
