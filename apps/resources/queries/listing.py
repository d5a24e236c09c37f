"""The Resources page listing: search, label chips, pins and recent launches first.

Every function here runs a fixed number of queries whatever the number of apps: the reachable
set is shared (`reachable`), and only the rows a page shows are built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import overload

from apps.access.access_end import grant_only_ends
from apps.accounts.models import User
from apps.resources.models import AwsApp
from apps.resources.models_user import AppUserState
from apps.resources.queries.catalog import AllowedRole, AppSummary
from apps.resources.queries.reachable import (
    Reachable,
    _search_text,
    reachable_apps,
    reachable_matching,
)

__all__ = ["AppRow", "LabelChip", "Listing", "app_listing", "parse_label_filter"]

MAX_CHIPS = 12


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
