"""Reads for the Resources page and the launch dialog (the sync's selectors live in selectors.py).

Access is decided by `apps.access` only; this module shapes its answer for display: search,
label chips, pins and recent launches first. Every function here runs a fixed number of queries
whatever the number of apps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from apps.access import selectors as access
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
    "LabelChip",
    "Listing",
    "app_listing",
    "launchable_app",
    "parse_label_filter",
]

# Labels that are unique per app make useless filter chips.
_CHIP_EXCLUDED_KEYS = frozenset({LABEL_PROFILE_ARN})
MAX_CHIPS = 12
_LISTING_FIELDS = (
    "name",
    "labels",
    "account_id",
    "role_arns",
    "profile_arn",
    "profile_name",
    "region",
    "partition",
    "integration__name",
)

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
class AppRow:
    """One app on the Resources page with what the user may do with it."""

    app: AwsApp
    roles: tuple[AllowedRole, ...]
    pinned: bool
    last_launched_at: datetime | None
    search_text: str = field(repr=False, default="")


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


def _search_text(app: AwsApp, roles: Sequence[str]) -> str:
    parts = [app.name, app.account_id, app.profile_name, app.profile_arn, app.integration.name]
    parts.extend(roles)
    for key, value in app.labels.items():
        parts.append(f"{key}={value}")
    return "\n".join(parts).casefold()


def _matches(row: AppRow, terms: Sequence[str], labels: Sequence[tuple[str, str]]) -> bool:
    if any(term not in row.search_text for term in terms):
        return False
    app_labels = row.app.labels
    return all(app_labels.get(key) == value for key, value in labels)


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


def app_listing(user: User, *, query: str = "", labels: Sequence[tuple[str, str]] = ()) -> Listing:
    """The apps `user` may access, filtered by `query` (all words) and `labels`, sorted.

    Pinned apps come first, then recently launched ones, then the rest by name.
    """
    # One query for the apps (with their integration), handed to the engine as they are, so
    # the page never re-reads an app per row.
    apps = {
        app.name: app for app in AwsApp.objects.select_related("integration").only(*_LISTING_FIELDS)
    }
    accessible = [
        (apps[facts.name], arns) for facts, arns in access.accessible_apps(user, apps.values())
    ]
    states = {
        state.app_name: state
        for state in AppUserState.objects.filter(user=user).only(
            "app_name", "pinned", "last_launched_at"
        )
    }
    rows: list[AppRow] = []
    for app, arns in accessible:
        state = states.get(app.name)
        rows.append(
            AppRow(
                app=app,
                roles=tuple(AllowedRole.from_arn(arn) for arn in sorted(arns)),
                pinned=bool(state and state.pinned),
                last_launched_at=state.last_launched_at if state else None,
                search_text=_search_text(app, sorted(arns)),
            )
        )
    terms = [term.casefold() for term in query.split()]
    active = list(dict.fromkeys(labels))
    matching = [row for row in rows if _matches(row, terms, active)]
    matching.sort(key=_sort_key)
    has_apps = bool(rows) or AwsApp.objects.exists()
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
