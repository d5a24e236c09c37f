"""Reads for the Resources page and the launch dialog (the sync's selectors live in selectors.py).

Access is decided by `apps.access` only; these modules shape its answer for display, split by
topic: the cached catalog (`catalog`), the apps each access key reaches (`reachable`), the
Resources page with its search, chips and pagination (`listing`), and one app by name for the
launch dialog and issuance (`lookup`). The package re-exports their public names; names with a
leading underscore are shared between its modules only.
"""

from __future__ import annotations

from apps.resources.queries.catalog import AllowedRole, AppSummary, app_catalog, catalog_version
from apps.resources.queries.listing import (
    AppRow,
    LabelChip,
    Listing,
    app_listing,
    parse_label_filter,
)
from apps.resources.queries.lookup import (
    CONSOLE_REGIONS,
    Decided,
    LaunchTarget,
    app_decided,
    app_get,
    launchable_app,
)
from apps.resources.queries.reachable import (
    Reachable,
    app_catalog_forget,
    reachable_apps,
    reachable_matching,
)

__all__ = [
    "CONSOLE_REGIONS",
    "AllowedRole",
    "AppRow",
    "AppSummary",
    "Decided",
    "LabelChip",
    "LaunchTarget",
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
