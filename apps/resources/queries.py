"""Reads for the Resources page and the launch dialog (the sync's selectors live in selectors.py).

Access is decided by `apps.access` only; this module shapes its answer for display: search,
label chips, pins and recent launches first. Every function here runs a fixed number of queries
whatever the number of apps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import threading
from bisect import bisect_left, insort
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar, overload

from django.conf import settings
from django.db import connection

from apps.access import selectors as access
from apps.access.access_end import AppDecision, app_decision, grant_only_ends
from apps.accounts.models import User
from apps.resources.models import AwsApp, CatalogChange, CatalogVersion
from apps.resources.models_user import AppUserState
from apps.resources.naming import LABEL_PROFILE_ARN
from awsra.arn import parse_role_arn
from rbac.decision import AppCatalog, AppFacts

__all__ = [
    "CONSOLE_REGIONS",
    "AllowedRole",
    "AppRow",
    "AppSummary",
    "Decided",
    "LabelChip",
    "Listing",
    "Reachable",
    "app_catalog",
    "app_catalog_forget",
    "app_decided",
    "app_get",
    "app_listing",
    "catalog_version",
    "launchable_app",
    "parse_label_filter",
    "reachable_apps",
    "reachable_matching",
]

# Labels that are unique per app make useless filter chips.
_CHIP_EXCLUDED_KEYS = frozenset({LABEL_PROFILE_ARN})
MAX_CHIPS = 12

# Offered in the region selector; any other well-formed region of the app's partition is
# accepted too (deep links), the list only saves typing.
CONSOLE_REGIONS: dict[str, tuple[str, ...]] = {
    "aws": (
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-east-1",
        "me-central-1",
        "af-south-1",
    ),
    "aws-us-gov": ("us-gov-west-1", "us-gov-east-1"),
    "aws-cn": ("cn-north-1", "cn-northwest-1"),
}


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


@dataclass
class AppRow:
    """One app on the Resources page with what the user may do with it."""

    app: AppSummary
    role_arns: tuple[str, ...]
    pinned: bool
    last_launched_at: datetime | None
    # Set when the app is reachable only through access-request grants: when that ends.
    grant_ends_at: datetime | None = None

    @property
    def roles(self) -> tuple[AllowedRole, ...]:
        """The allowed roles with display names (built for the rows on the page only)."""
        return tuple(AllowedRole.from_arn(arn) for arn in self.role_arns)

    @property
    def search_text(self) -> str:
        """Everything the search box matches, case-folded (built only when searching)."""
        return _search_text(self.app, self.role_arns)


@dataclass(frozen=True)
class LabelChip:
    """A label filter chip: `key=value`, how many of the user's apps carry it, whether active."""

    key: str
    value: str
    count: int
    active: bool

    @property
    def token(self) -> str:
        """The query-string form (`label=key=value`)."""
        return f"{self.key}={self.value}"


@dataclass(frozen=True)
class Listing:
    """The Resources page data: the matching rows (sorted), chips and empty-state facts."""

    rows: Sequence[AppRow]  # built lazily: only the rows a page shows are materialised
    total_accessible: int
    chips: list[LabelChip]
    has_integrations: bool
    has_apps: bool


def parse_label_filter(raw: str) -> tuple[str, str] | None:
    """`key=value` → (key, value); anything without `=` or with an empty key is ignored."""
    key, sep, value = raw.partition("=")
    key = key.strip()
    if not sep or not key:
        return None
    return key, value.strip()


# --- the catalog and the reachable sets ------------------------------------------------------
#
# The catalog (every app as plain data, with the engine's label indexes) is cached per process.
# Whether it is current costs one primary-key read per request: the one-row catalog version
# that database triggers set whenever an app changes (migrations 0003 and 0004).
#
# What a user reaches depends only on the catalog and on the user's access key (roles in force
# by version, grants included, and the trait values their templates read), so the reachable set
# is computed once per access key and shared by every user with that key: a request then only
# slices it (and scans it when searching).
#
# After a catalog change, PostgreSQL does not re-read the catalog: each app row carries the
# change number of its last visible change and deletions leave tombstones (migration 0004), so
# one statement fetches what changed since the cached catalog's number, the catalog is patched,
# and each cached reachable set is patched when next asked for by running the engine over the
# changed apps only. A full rebuild remains for a cold process, SQLite (the demo), a change log
# this process cannot follow (its marker rolled back or pruned, a TRUNCATE) and large changes.

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


@dataclass
class Reachable:
    """The apps one access key reaches, in name order, with what every page needs of them."""

    rows: Sequence[tuple[AppSummary, tuple[str, ...]]]
    catalog_size: int
    # Label chip candidates over all reachable apps: ((key, value), count), most common first.
    chip_counts: tuple[tuple[tuple[str, str], int], ...]
    # The catalog generation these rows were computed for.
    generation: int = 0
    _search: Sequence[str] | None = field(default=None, repr=False)

    def position(self, name: str) -> int | None:
        """Where the app called `name` is in `rows` (a bisection: rows are in name order)."""
        rows = self.rows
        index = bisect_left(rows, name, key=_row_name)
        if index < len(rows) and rows[index][0].name == name:
            return index
        return None

    @property
    def positions(self) -> dict[str, int]:
        """Every reachable name with its position (built on demand; pages use `position`)."""
        return {app.name: position for position, (app, _) in enumerate(self.rows)}

    def search_texts(self) -> Sequence[str]:
        """What the search box matches, per row, case-folded (built once, on first search)."""
        texts = self._search
        if texts is None:
            texts = tuple(_search_text(app, arns) for app, arns in self.rows)
            self._search = texts
        return texts

    def names(self) -> list[str]:
        """The reachable app names, in order (what cursors bisect on)."""
        return [app.name for app, _ in self.rows]


# Bounded by rows held, not entries: one 100,000-app reachable set weighs as much as many
# small ones. LRU order by access key.
REACHABLE_ROW_BUDGET = 2_000_000
_reachable: OrderedDict[tuple[Any, ...], Reachable] = OrderedDict()
_reachable_rows = 0


def _weight(reachable: Reachable) -> int:
    """What a cached set counts against the budget: its rows, and at least 1, so that many
    empty sets (users who reach nothing, each with other traits) are evicted too."""
    return max(1, len(reachable.rows))


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


def _row_name(row: tuple[Any, ...]) -> str:
    """A reachable row's app name (rows may carry their search text as a third item)."""
    app: AppSummary = row[0]
    return app.name


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


def app_catalog_forget() -> None:
    """Drop the cached catalog and reachable sets (tests and benchmarks of the cold path)."""
    global _catalog, _reachable_rows, _delta_changes
    with _refresh_lock, _catalog_lock:
        _catalog = None
        _reachable.clear()
        _reachable_rows = 0
        _deltas.clear()
        _delta_changes = 0


def _search_text(app: AppSummary, arns: Sequence[str]) -> str:
    parts = [app.name, app.account_id, app.profile_name, app.profile_arn, app.integration_name]
    parts.extend(arns)
    parts.extend(f"{key}={value}" for key, value in app.labels.items())
    return "\n".join(parts).casefold()


def _chip_pairs(app: AppSummary) -> Iterator[tuple[str, str]]:
    for key, value in app.labels.items():
        if key not in _CHIP_EXCLUDED_KEYS:
            yield key, value


def _sorted_chips(counts: Mapping[tuple[str, str], int]) -> tuple[tuple[tuple[str, str], int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _build_reachable(user_access: access.UserAccess, catalog: _Catalog) -> Reachable:
    by_name = {summary.name: summary for summary in catalog.summaries}
    rows = tuple(
        (by_name[facts.name], arns)
        for facts, arns in user_access.evaluator.accessible_apps(catalog.facts)
    )
    counts: Counter[tuple[str, str]] = Counter()
    for app, _ in rows:
        counts.update(_chip_pairs(app))
    return Reachable(
        rows=rows,
        catalog_size=len(catalog.summaries),
        chip_counts=_sorted_chips(counts),
        generation=catalog.generation,
    )


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


def _patch_reachable(
    found: Reachable, changes: Sequence[_Change], user_access: access.UserAccess, catalog: _Catalog
) -> Reachable:
    """`found` with only the changed apps re-decided by the engine: they may enter or leave."""
    if not changes:
        return dataclasses.replace(
            found, catalog_size=len(catalog.summaries), generation=catalog.generation
        )
    gone = {before.name for _, before, _ in changes if before is not None}
    afters = {after.name: after for _, _, after in changes if after is not None}
    decided = user_access.evaluator.accessible_apps([after.facts for after in afters.values()])
    added = [(afters[facts.name], arns) for facts, arns in decided]
    counts = Counter(dict(found.chip_counts))
    old_texts = found._search
    search: list[str] | None = None
    if old_texts is None:
        rows, removed = _merged(found.rows, gone, added, _row_name)
    else:  # searched before: the texts move with their rows
        triples, removed_triples = _merged(
            [(app, arns, text) for (app, arns), text in zip(found.rows, old_texts, strict=True)],
            gone,
            [(app, arns, _search_text(app, arns)) for app, arns in added],
            _row_name,
        )
        rows = [(app, arns) for app, arns, _ in triples]
        search = [text for _, _, text in triples]
        removed = [(app, arns) for app, arns, _ in removed_triples]
    for app, _ in removed:
        counts.subtract(_chip_pairs(app))
    for app, _ in added:
        counts.update(_chip_pairs(app))
    return Reachable(
        rows=rows,
        catalog_size=len(catalog.summaries),
        chip_counts=_sorted_chips(+counts),
        generation=catalog.generation,
        _search=search,
    )


def reachable_apps(user: User) -> Reachable:
    """The apps `user` may use (name order, each with its allowed ARNs), shared by access key.

    Two queries whatever the catalog size: the catalog version and the user's roles (plus one
    after a catalog change: what changed, or the whole catalog when it must be re-read).
    """
    global _reachable_rows
    state = _catalog_state()
    user_access = access.user_access(user)
    key = user_access.key
    catalog = _current_catalog(state)
    with _catalog_lock:
        found = _reachable.get(key)
        if found is not None:
            _reachable.move_to_end(key)
            if found.generation == catalog.generation:
                return found
    built = None
    with _gc_paused():
        if found is not None and found.generation < catalog.generation:
            changes = _changes_since(found.generation, catalog.generation)
            if changes is not None:
                built = _patch_reachable(found, changes, user_access, catalog)
        if built is None:
            built = _build_reachable(user_access, catalog)
    with _catalog_lock:
        current = _reachable.get(key)
        if current is None or current.generation < built.generation:
            if current is not None:
                _reachable_rows -= _weight(current)
            _reachable[key] = built
            _reachable_rows += _weight(built)
        while _reachable_rows > REACHABLE_ROW_BUDGET and len(_reachable) > 1:
            _, evicted = _reachable.popitem(last=False)
            _reachable_rows -= _weight(evicted)
    return built


def reachable_matching(
    reachable: Reachable, terms: Sequence[str], labels: Sequence[tuple[str, str]]
) -> Sequence[int]:
    """Positions of the reachable rows matching every search term and label, in order."""
    if not terms and not labels:
        return range(len(reachable.rows))
    rows = reachable.rows
    positions: Iterable[int] = range(len(rows))
    if labels:
        positions = [p for p in positions if all(rows[p][0].labels.get(k) == v for k, v in labels)]
    if terms:
        texts = reachable.search_texts()
        positions = [p for p in positions if all(term in texts[p] for term in terms)]
    return list(positions)


def _chips(reachable: Reachable, active: Sequence[tuple[str, str]]) -> list[LabelChip]:
    chosen = reachable.chip_counts[:MAX_CHIPS]
    chips = {pair: LabelChip(pair[0], pair[1], n, pair in active) for pair, n in chosen}
    if active:
        counts = dict(reachable.chip_counts)
        for pair in active:
            if pair not in chips:
                chips[pair] = LabelChip(pair[0], pair[1], counts.get(pair, 0), True)
    return sorted(chips.values(), key=lambda chip: (not chip.active, -chip.count, chip.key))


class _ListingRows(Sequence[AppRow]):
    """The page's rows: the user's pinned and recent apps first, then the rest by name.

    Only the rows a page shows are built (the paginator slices this), so a request costs the
    same whatever the number of reachable apps.
    """

    def __init__(
        self,
        user: User,
        reachable: Reachable,
        front: list[int],
        rest: Sequence[int],
        states: Mapping[str, AppUserState],
    ) -> None:
        self._user = user
        self._reachable = reachable
        self._front = front
        self._rest = rest
        self._states = states

    def __len__(self) -> int:
        return len(self._front) + len(self._rest)

    def _position(self, index: int) -> int:
        front = self._front
        return front[index] if index < len(front) else self._rest[index - len(front)]

    def _build(self, positions: Sequence[int]) -> list[AppRow]:
        rows = self._reachable.rows
        picked = [rows[p] for p in positions]
        grant_ends = grant_only_ends(self._user, [(app.facts, arns) for app, arns in picked])
        built = []
        for app, arns in picked:
            state = self._states.get(app.name)
            built.append(
                AppRow(
                    app=app,
                    role_arns=arns,
                    pinned=bool(state and state.pinned),
                    last_launched_at=state.last_launched_at if state else None,
                    grant_ends_at=grant_ends.get(app.name),
                )
            )
        return built

    @overload
    def __getitem__(self, index: int) -> AppRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[AppRow]: ...

    def __getitem__(self, index: int | slice) -> AppRow | list[AppRow]:
        if isinstance(index, slice):
            return self._build([self._position(i) for i in range(*index.indices(len(self)))])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._build([self._position(index)])[0]


def _any_integration() -> bool:
    """Whether any integration exists: the model our foreign key names (integrations, which
    writes the catalog, sits above it and is not imported)."""
    integration = AwsApp._meta.get_field("integration").related_model
    return (
        not isinstance(integration, str)
        and integration is not None
        and (integration._default_manager.exists())
    )


def app_listing(user: User, *, query: str = "", labels: Sequence[tuple[str, str]] = ()) -> Listing:
    """The apps `user` may access, filtered by `query` (all words) and `labels`, sorted.

    Pinned apps come first, then recently launched ones, then the rest by name.
    """
    reachable = reachable_apps(user)
    states = {
        state.app_name: state
        for state in AppUserState.objects.filter(user=user).only(
            "app_name", "pinned", "last_launched_at"
        )
    }
    terms = [term.casefold() for term in query.split()]
    active = list(dict.fromkeys(labels))
    matching = reachable_matching(reachable, terms, active)
    chosen = set(matching) if (terms or active) else None
    marked = [
        position
        for name, state in states.items()
        if (state.pinned or state.last_launched_at)
        and (position := reachable.position(name)) is not None
    ]
    front = [p for p in marked if chosen is None or p in chosen]
    front.sort(key=lambda p: _front_key(states[reachable.rows[p][0].name]))
    if front:
        skip = set(front)
        rest: Sequence[int] = [p for p in matching if p not in skip]
    else:
        rest = matching
    has_apps = reachable.catalog_size > 0
    has_integrations = has_apps or _any_integration()
    return Listing(
        rows=_ListingRows(user, reachable, front, rest, states),
        total_accessible=len(reachable.rows),
        chips=_chips(reachable, active),
        has_integrations=has_integrations,
        has_apps=has_apps,
    )


def _front_key(state: AppUserState) -> tuple[bool, float, str]:
    launched = state.last_launched_at.timestamp() if state.last_launched_at else 0.0
    return (not state.pinned, -launched, state.app_name)


def app_get(app_name: str) -> AwsApp | None:
    """One app with its integration by name (no permission check), or None."""
    if not isinstance(app_name, str) or not app_name or len(app_name) > 255:
        return None
    try:
        # A plain get: no ORDER BY to compile for a single row by its unique name.
        return AwsApp.objects.select_related("integration").get(name=app_name)
    except AwsApp.DoesNotExist:
        return None


@dataclass(frozen=True)
class Decided:
    """An app and the user's decision on it, made once per request and carried through."""

    app: AwsApp
    decision: AppDecision


def app_decided(user: User, app_name: str) -> Decided | None:
    """The app and the user's decision on it (three queries), or None for a missing app."""
    app = app_get(app_name)
    if app is None:
        return None
    return Decided(app=app, decision=app_decision(user, app))


@dataclass(frozen=True)
class LaunchTarget:
    """An app the user may launch, with the roles they may pick and the region choices."""

    app: AwsApp
    roles: tuple[AllowedRole, ...]
    regions: tuple[str, ...]
    default_region: str
    decided: Decided


def launchable_app(user: User, app_name: str) -> LaunchTarget | None:
    """The app and the user's allowed roles on it, or None if missing or not allowed."""
    decided = app_decided(user, app_name)
    if decided is None or not decided.decision.allowed:
        return None
    app = decided.app
    regions = CONSOLE_REGIONS.get(app.partition, ())
    default_region = app.region or settings.ROLEGATE_DEFAULT_REGION
    if default_region not in regions:
        regions = (default_region, *regions)
    return LaunchTarget(
        app=app,
        roles=tuple(AllowedRole.from_arn(arn) for arn in sorted(decided.decision.allowed)),
        regions=regions,
        default_region=default_region,
        decided=decided,
    )
