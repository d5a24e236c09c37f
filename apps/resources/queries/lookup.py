"""One app by name for the launch dialog and issuance: the app, the user's decision, the target.

Access is decided by `apps.access` only; these shape its answer (a few queries, one app).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from apps.access.access_end import AppDecision, app_decision
from apps.accounts.models import User
from apps.resources.models import AwsApp
from apps.resources.queries.catalog import AllowedRole

__all__ = ["CONSOLE_REGIONS", "Decided", "LaunchTarget", "app_decided", "app_get", "launchable_app"]

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
