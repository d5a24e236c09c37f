"""The catalog cache: every synced app as plain data, read once per process and patched.

Whether the cached catalog is current costs one primary-key read per request: the one-row catalog
version that database triggers set whenever an app changes (migrations 0003 and 0004).

After a catalog change, PostgreSQL does not re-read the catalog: each app row carries the
change number of its last visible change and deletions leave tombstones (migration 0004), so
one statement fetches what changed since the cached catalog's number, the catalog is patched,
and the changes of each recent generation are kept (`_deltas`) so that the reachable sets
(`reachable`) can be patched too. A full rebuild remains for a cold process, SQLite (the demo),
a change log this process cannot follow (its marker rolled back or pruned, a TRUNCATE) and large
changes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, TypeVar

from django.db import connection

from apps.resources.models import AwsApp, CatalogChange, CatalogVersion
from awsra.arn import parse_role_arn
from rbac.decision import AppCatalog, AppFacts

__all__ = ["AllowedRole", "AppSummary", "app_catalog", "catalog_version"]


@dataclass(frozen=True)
class AllowedRole:
    """An IAM role the user may assume on an app, with its short name for display."""

    arn: str
    name: str

    @classmethod
    def from_arn(cls, arn: str) -> AllowedRole:
        """Build from an ARN; the name is the last path segment (`.../role/path/Name` → Name)."""
        try:
            name = parse_role_arn(arn).name
        except ValueError:
            name = arn.rsplit("/", 1)[-1]
        return cls(arn=arn, name=name)


@dataclass(frozen=True)
class AppSummary:
    """What the Resources page shows of a synced app (plain data, cached per catalog version)."""

    name: str
    integration_name: str
    profile_arn: str
    profile_name: str
    account_id: str
    region: str
    labels: Mapping[str, str]
    facts: AppFacts = field(repr=False)


# Guards the cached catalog, its change log and (in `reachable`) the cached reachable sets.
_catalog_lock = threading.Lock()
# Held while the catalog is refreshed, so concurrent requests wait for one refresh.
_refresh_lock = threading.Lock()


@dataclass(frozen=True)
class _Catalog:
    version: int
    # The change number this catalog reflects (0: unknown, the next change rebuilds).
    seq: int
    # Process-local, one more for every catalog installed: what reachable sets are built from.
    generation: int
    summaries: Sequence[AppSummary]  # name order (code points), so cursors can bisect
    # Only the newest catalog's is current: a refresh moves it on to the next catalog.
    by_id: dict[int, AppSummary]
    _facts: list[AppCatalog] = field(default_factory=list, repr=False, compare=False)

    @property
    def facts(self) -> AppCatalog:
        """The engine's view of every app (label indexes built lazily, once per catalog)."""
        if not self._facts:
            self._facts.append(AppCatalog([summary.facts for summary in self.summaries]))
        return self._facts[0]


_catalog: _Catalog | None = None
_generation = 0

# One app's change between two catalogs: (app id, before, after); None when absent.
_Change = tuple[int, "AppSummary | None", "AppSummary | None"]
# The changes that produced each recent generation from the one before, oldest first; a
# reachable set built at a generation older than these is rebuilt rather than patched.
_DELTA_GENERATIONS = 64
_DELTA_CHANGES = 100_000
_deltas: OrderedDict[int, tuple[_Change, ...]] = OrderedDict()
_delta_changes = 0


def catalog_version() -> int:
    """The catalog's version: one primary-key read of the row the trigger bumps (0: none yet)."""
    return _catalog_state()[0]


def _catalog_state() -> tuple[int, int]:
    """(version, change number) of the catalog: one primary-key read; (0, 0) when unset."""
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone()
    if not row:
        return 0, 0
    return int(row[0] or 0), int(row[1] or 0)


_VERSION_SQL = f"SELECT version, seq FROM {CatalogVersion._meta.db_table} WHERE id = 1"  # noqa: S608  # nosec B608


def _summary(
    name: str,
    integration: str,
    profile_arn: str,
    profile_name: str,
    account: str,
    region: str,
    labels: Mapping[str, Any] | None,
    roles: Iterable[str] | None,
) -> AppSummary:
    plain_labels = {str(k): str(v) for k, v in (labels or {}).items()}
    return AppSummary(
        name=name,
        integration_name=integration,
        profile_arn=profile_arn,
        profile_name=profile_name,
        account_id=account,
        region=region,
        labels=plain_labels,
        facts=AppFacts(
            name=name,
            labels=plain_labels,
            account_id=account,
            role_arns=frozenset(roles or ()),
        ),
    )


_BY_NAME = attrgetter("name")


# Up to this many changes, a patch bisects into copies of the ordered lists; above it, it
# filters and re-sorts them (two sorted runs: still linear).
_FEW_CHANGES = 64

_T = TypeVar("_T")


def _merged(
    items: Sequence[_T], gone: set[str], added: list[_T], name_of: Callable[[_T], str]
) -> tuple[list[_T], list[_T]]:
    """`items` (name order) without the names in `gone`, plus `added`, in name order; and the
    items taken out."""
    removed: list[_T] = []
    if len(gone) + len(added) <= _FEW_CHANGES:
        out = list(items)
        for name in gone:
            index = bisect_left(out, name, key=name_of)
            if index < len(out) and name_of(out[index]) == name:
                removed.append(out.pop(index))
        for item in added:
            insort(out, item, key=name_of)
        return out, removed
    out = []
    for item in items:
        (removed if name_of(item) in gone else out).append(item)
    out.extend(added)
    out.sort(key=name_of)
    return out, removed


def _load_catalog(version: int, seq: int, generation: int) -> _Catalog:
    rows = AwsApp.objects.values_list(
        "pk",
        "name",
        "integration__name",
        "profile_arn",
        "profile_name",
        "account_id",
        "region",
        "labels",
        "role_arns",
    ).order_by()
    by_id = {row[0]: _summary(*row[1:]) for row in rows}
    # Sorted here, in code-point order, so cursors can bisect on names.
    summaries = sorted(by_id.values(), key=_BY_NAME)
    return _Catalog(
        version=version, seq=seq, generation=generation, summaries=summaries, by_id=by_id
    )


def _changes_sql() -> str:
    app = AwsApp._meta.db_table
    integration_model = AwsApp._meta.get_field("integration").related_model
    assert not isinstance(integration_model, str)
    assert integration_model is not None
    integration = integration_model._meta.db_table
    change = CatalogChange._meta.db_table
    version = CatalogVersion._meta.db_table
    blank = "NULL, NULL, NULL, NULL, NULL, NULL, NULL::jsonb, NULL::jsonb"
    # One statement, so one snapshot: the changed rows, the tombstones and resets after the
    # cached number, whether the cached catalog's own marker is there (it is not when that
    # change was rolled back or pruned), and the version and number all this amounts to.
    # The upper bound (the snapshot's own last number) excludes nothing; it makes the planner
    # read the changed rows through the index even where statistics are stale or missing
    # (an open range over a never-analysed column is estimated at a third of the table).
    upto = f"(SELECT v.seq FROM {version} v WHERE v.id = 1)"  # noqa: S608  # nosec B608
    return (
        f"SELECT 0, a.id, a.catalog_seq, a.name, i.name, a.profile_arn, a.profile_name,"  # noqa: S608  # nosec B608
        f" a.account_id, a.region, a.labels, a.role_arns"
        f" FROM {app} a JOIN {integration} i ON i.id = a.integration_id"
        f" WHERE a.catalog_seq > %(seq)s AND a.catalog_seq <= {upto}"
        f" UNION ALL SELECT 1, c.app_id, c.seq, {blank} FROM {change} c"
        f" WHERE c.seq > %(seq)s AND c.seq <= {upto} AND c.version IS NULL"
        f" UNION ALL SELECT 2, NULL, c.seq, {blank} FROM {change} c"
        f" WHERE c.seq = %(seq)s AND c.version = %(version)s"
        f" UNION ALL SELECT 3, v.version, v.seq, {blank} FROM {version} v WHERE v.id = 1"
    )


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _refreshed(cached: _Catalog, generation: int) -> tuple[_Catalog, tuple[_Change, ...]] | None:
    """`cached` patched with what changed since its number, or None when a rebuild is due."""
    with connection.cursor() as cursor:
        cursor.execute(_changes_sql(), {"seq": cached.seq, "version": cached.version})
        rows = cursor.fetchall()
    changed: list[tuple[int, AppSummary]] = []
    deleted: list[int] = []
    anchored = False
    version, seq = 0, 0
    for kind, number, other, *fields in rows:
        if kind == 0:
            name, integration, profile_arn, profile_name, account, region, labels, roles = fields
            summary = _summary(
                name,
                integration,
                profile_arn,
                profile_name,
                account,
                region,
                _decoded(labels),
                _decoded(roles),
            )
            changed.append((int(number), summary))
        elif kind == 1:
            if number is None:
                return None  # a TRUNCATE: nothing before it is known to be gone one by one
            deleted.append(int(number))
        elif kind == 2:
            anchored = True
        else:
            version, seq = int(number or 0), int(other or 0)
    if not anchored or seq < cached.seq:
        return None
    if len(changed) + len(deleted) > max(1_000, len(cached.summaries) // 4):
        return None  # cheaper to read everything than to patch piece by piece
    by_id = cached.by_id  # moves on to the new catalog (under the refresh lock)
    changes: list[_Change] = []
    for app_id in deleted:
        before = by_id.pop(app_id, None)
        if before is not None:
            changes.append((app_id, before, None))
    for app_id, after in changed:
        changes.append((app_id, by_id.get(app_id), after))
        by_id[app_id] = after
    if not changes and version == cached.version:
        return cached, ()
    gone = {before.name for _, before, _ in changes if before is not None}
    afters = [after for _, _, after in changes if after is not None]
    summaries, _ = _merged(cached.summaries, gone, afters, _BY_NAME)
    catalog = _Catalog(
        version=version, seq=seq, generation=generation, summaries=summaries, by_id=by_id
    )
    return catalog, tuple(changes)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a catalog or reachable set is built: 100,000 apps allocate a few
    hundred thousand objects, none of them cyclic garbage, and the collector walking them over
    and over doubled the build time. Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _current_catalog(state: tuple[int, int]) -> _Catalog:
    global _catalog, _generation, _delta_changes
    version, seq = state
    cached = _catalog
    if cached is not None and cached.version == version:
        return cached
    with _refresh_lock:
        cached = _catalog
        if cached is not None and cached.version == version:
            return cached
        generation = _generation + 1
        refreshed = None
        with _gc_paused():
            # A request that read the version just before another thread patched the cache sees
            # an older version than the cache's: patching reads its own current version and
            # number, so it is the answer then too (a full read labelled with the older number
            # would drop every patch and force every reachable set to rebuild).
            if cached is not None and cached.seq > 0 and connection.vendor == "postgresql":
                refreshed = _refreshed(cached, generation)
            if refreshed is None:
                loaded, changes = _load_catalog(version, seq, generation), None
            else:
                loaded, changes = refreshed
        if loaded is cached:
            return cached
        with _catalog_lock:
            _generation = generation
            _catalog = loaded
            if changes is None:
                _deltas.clear()
                _delta_changes = 0
            else:
                _deltas[generation] = changes
                _delta_changes += len(changes)
                while _deltas and (
                    len(_deltas) > _DELTA_GENERATIONS or _delta_changes > _DELTA_CHANGES
                ):
                    _, dropped = _deltas.popitem(last=False)
                    _delta_changes -= len(dropped)
        return loaded


def app_catalog() -> list[AppSummary]:
    """Every synced app as display-ready plain data, read once and patched on changes."""
    return list(_current_catalog(_catalog_state()).summaries)


def _catalog_drop() -> None:
    """Forget the cached catalog and its change log (the caller holds both locks)."""
    global _catalog, _delta_changes
    _catalog = None
    _deltas.clear()
    _delta_changes = 0


def _changes_since(generation: int, current: int) -> list[_Change] | None:
    """The net change of every app between two generations, or None if not all are kept."""
    with _catalog_lock:
        steps = [_deltas.get(g) for g in range(generation + 1, current + 1)]
    if any(step is None for step in steps):
        return None
    first: dict[int, AppSummary | None] = {}
    last: dict[int, AppSummary | None] = {}
    for step in steps:
        assert step is not None
        for app_id, before, after in step:
            first.setdefault(app_id, before)
            last[app_id] = after
    return [(app_id, before, last[app_id]) for app_id, before in first.items()]
