"""Reads for the Resources page and the launch dialog (the sync's selectors live in selectors.py).

Access is decided by `apps.access` only; this module shapes its answer for display: search,
label chips, pins and recent launches first. Every function here runs a fixed number of queries
whatever the number of apps.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Max

from apps.access import selectors as access
from apps.access.access_end import grant_only_ends
from apps.access.engine.decision import AppFacts
from apps.accounts.models import User
from apps.integrations.models import Integration
from apps.integrations.naming import LABEL_PROFILE_ARN
from apps.resources.models import AwsApp
from apps.resources.models_user import AppUserState
from awsra.arn import parse_role_arn

__all__ = [
    "CONSOLE_REGIONS",
    "AllowedRole",
    "AppRow",
    "AppSummary",
    "LabelChip",
    "Listing",
    "app_catalog",
    "app_catalog_forget",
    "app_listing",
    "launchable_app",
    "parse_label_filter",
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
        app = self.app
        parts = [app.name, app.account_id, app.profile_name, app.profile_arn, app.integration_name]
        parts.extend(self.role_arns)
        parts.extend(f"{key}={value}" for key, value in app.labels.items())
        return "\n".join(parts).casefold()


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

    rows: list[AppRow]
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


def _matches(row: AppRow, terms: Sequence[str], labels: Sequence[tuple[str, str]]) -> bool:
    app_labels = row.app.labels
    if not all(app_labels.get(key) == value for key, value in labels):
        return False
    if not terms:
        return True
    text = row.search_text
    return all(term in text for term in terms)


def _chips(rows: Iterable[AppRow], active: Sequence[tuple[str, str]]) -> list[LabelChip]:
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        for key, value in row.app.labels.items():
            if key not in _CHIP_EXCLUDED_KEYS and isinstance(value, str):
                counts[(key, value)] += 1
    chosen = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_CHIPS]
    chips = {pair: LabelChip(pair[0], pair[1], n, pair in active) for pair, n in chosen}
    for pair in active:
        if pair not in chips:
            chips[pair] = LabelChip(pair[0], pair[1], counts.get(pair, 0), True)
    return sorted(chips.values(), key=lambda chip: (not chip.active, -chip.count, chip.key))


def _sort_key(row: AppRow) -> tuple[bool, float, str]:
    launched = row.last_launched_at.timestamp() if row.last_launched_at else 0.0
    return (not row.pinned, -launched, row.app.name)


# The parsed catalog, reused until any app changes: decoding 10,000 rows of JSON into model
# instances costs far more than deciding access. Keyed by (count, max id, max updated_at), which
# moves on every insert, delete and sync update, and checked with one aggregate per request.
_catalog_lock = threading.Lock()
_catalog: tuple[tuple[Any, ...], list[AppSummary]] | None = None


def _catalog_version() -> tuple[Any, ...]:
    version = AwsApp.objects.aggregate(count=Count("id"), top=Max("id"), last=Max("updated_at"))
    return (version["count"], version["top"], version["last"])


def app_catalog() -> list[AppSummary]:
    """Every synced app as display-ready plain data, parsed once per catalog change."""
    global _catalog
    version = _catalog_version()
    cached = _catalog
    if cached is not None and cached[0] == version:
        return cached[1]
    rows = AwsApp.objects.order_by("name").values_list(
        "name",
        "integration__name",
        "profile_arn",
        "profile_name",
        "account_id",
        "region",
        "labels",
        "role_arns",
    )
    summaries = []
    for name, integration, profile_arn, profile_name, account, region, labels, roles in rows:
        plain_labels = {str(k): str(v) for k, v in (labels or {}).items()}
        summaries.append(
            AppSummary(
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
        )
    with _catalog_lock:
        _catalog = (version, summaries)
    return summaries


def app_catalog_forget() -> None:
    """Drop the cached catalog (tests and benchmarks measuring the cold path)."""
    global _catalog
    with _catalog_lock:
        _catalog = None


def app_listing(user: User, *, query: str = "", labels: Sequence[tuple[str, str]] = ()) -> Listing:
    """The apps `user` may access, filtered by `query` (all words) and `labels`, sorted.

    Pinned apps come first, then recently launched ones, then the rest by name.
    """
    catalog = app_catalog()
    by_name = {summary.name: summary for summary in catalog}
    accessible = access.accessible_apps(user, [summary.facts for summary in catalog])
    states = {
        state.app_name: state
        for state in AppUserState.objects.filter(user=user).only(
            "app_name", "pinned", "last_launched_at"
        )
    }
    grant_ends = grant_only_ends(user, accessible)
    rows: list[AppRow] = []
    for facts, arns in accessible:
        state = states.get(facts.name)
        rows.append(
            AppRow(
                app=by_name[facts.name],
                role_arns=tuple(sorted(arns)),
                pinned=bool(state and state.pinned),
                last_launched_at=state.last_launched_at if state else None,
                grant_ends_at=grant_ends.get(facts.name),
            )
        )
    terms = [term.casefold() for term in query.split()]
    active = list(dict.fromkeys(labels))
    matching = [row for row in rows if _matches(row, terms, active)]
    matching.sort(key=_sort_key)
    has_apps = bool(catalog)
    has_integrations = has_apps or Integration.objects.exists()
    return Listing(
        rows=matching,
        total_accessible=len(rows),
        chips=_chips(rows, active),
        has_integrations=has_integrations,
        has_apps=has_apps,
    )


@dataclass(frozen=True)
class LaunchTarget:
    """An app the user may launch, with the roles they may pick and the region choices."""

    app: AwsApp
    roles: tuple[AllowedRole, ...]
    regions: tuple[str, ...]
    default_region: str


def launchable_app(user: User, app_name: str) -> LaunchTarget | None:
    """The app and the user's allowed roles on it, or None if missing or not allowed."""
    if not app_name or len(app_name) > 255:
        return None
    app = AwsApp.objects.select_related("integration").filter(name=app_name).first()
    if app is None:
        return None
    arns = access.allowed_aws_roles(user, app)
    if not arns:
        return None
    regions = CONSOLE_REGIONS.get(app.partition, ())
    default_region = app.region or settings.ROLEGATE_DEFAULT_REGION
    if default_region not in regions:
        regions = (default_region, *regions)
    return LaunchTarget(
        app=app,
        roles=tuple(AllowedRole.from_arn(arn) for arn in sorted(arns)),
        regions=regions,
        default_region=default_region,
    )
