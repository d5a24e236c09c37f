"""The reachable sets: the apps one access key reaches, computed once and shared.

What a user reaches depends only on the catalog and on the user's access key (roles in force
by version, grants included, and the trait values their templates read), so the reachable set
is computed once per access key and shared by every user with that key: a request then only
slices it (and scans it when searching). After a catalog change each cached set is patched when
next asked for, by running the engine over the changed apps only (`catalog._changes_since`).
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.access import selectors as access
from apps.accounts.models import User
from apps.resources.naming import LABEL_PROFILE_ARN
from apps.resources.queries.catalog import (
    AppSummary,
    _Catalog,
    _catalog_drop,
    _catalog_lock,
    _catalog_state,
    _Change,
    _changes_since,
    _current_catalog,
    _gc_paused,
    _merged,
    _refresh_lock,
)

__all__ = ["Reachable", "app_catalog_forget", "reachable_apps", "reachable_matching"]

# Labels that are unique per app make useless filter chips.
_CHIP_EXCLUDED_KEYS = frozenset({LABEL_PROFILE_ARN})


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


def _row_name(row: tuple[Any, ...]) -> str:
    """A reachable row's app name (rows may carry their search text as a third item)."""
    app: AppSummary = row[0]
    return app.name


def app_catalog_forget() -> None:
    """Drop the cached catalog and reachable sets (tests and benchmarks of the cold path)."""
    global _reachable_rows
    with _refresh_lock, _catalog_lock:
        _catalog_drop()
        _reachable.clear()
        _reachable_rows = 0


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
