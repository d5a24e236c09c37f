"""Listing the Roles Anywhere profiles of an integration (every AWS read of a sync; no writes)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.integrations import aws
from apps.integrations.enrollment.policies import is_rolegate_owned
from apps.integrations.models import Integration
from apps.integrations.spec import (
    profile_name_matches,
)
from awsra.arn import ArnError, parse_profile_arn, parse_role_arn
from awsra.errors import AwsError, ResourceNotFoundError, TransientError
from rbac.labels import ValueMatcher

log = logging.getLogger(__name__)


MAX_ERROR_MESSAGE_BYTES = 100 * 1024
CONSECUTIVE_TAG_FAILURES_LIMIT = 3
# ListTagsForResource calls of one integration in flight at once (each still paced).
TAG_READ_WORKERS = 4

Progress = Callable[[str, int, int], None]


@dataclass
class ListedProfile:
    """One profile kept by the listing (enabled, not the sync profile, passing the filters)."""

    arn: str
    name: str
    role_arns: list[str]
    duration_seconds: int
    accept_role_session_name: bool
    partition: str
    region: str
    account_id: str
    tags: dict[str, str] | None = None
    error: str = ""
    # The tag read failed with an error worth retrying soon (throttling, 5xx, timeout).
    transient: bool = False


@dataclass
class Listing:
    """What AWS said: kept profiles, counts, and whether the listing is complete."""

    profiles: list[ListedProfile] = field(default_factory=list)
    seen: int = 0
    skipped: int = 0
    complete: bool = False
    error: str = ""
    transient: bool = False
    calls: int = 0
    invalid: list[str] = field(default_factory=list)
    # Every profile ARN the listing named (kept, disabled, filtered out or the sync profile):
    # an app whose profile is not in here was not merely filtered or disabled.
    seen_arns: set[str] = field(default_factory=set)

    @property
    def retry_soon(self) -> bool:
        """A complete listing with profiles whose tag reads failed transiently: the run ends
        ERROR for them, and its retry (not the next beat) should read them again."""
        return any(profile.error and profile.transient for profile in self.profiles)


def cap_error_message(lines: list[str]) -> str:
    """Join error lines, cut to 100 KB (UTF-8) with a marker saying how many lines were left out."""
    text = "\n".join(line for line in lines if line)
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_ERROR_MESSAGE_BYTES:
        return text
    marker = "\n... (truncated: the full list exceeded 100 KB)"
    budget = MAX_ERROR_MESSAGE_BYTES - len(marker.encode("utf-8"))
    return encoded[:budget].decode("utf-8", "ignore") + marker


def sync_target(integration: Integration) -> aws.SyncTarget:
    """Where and as whom Rolegate signs in to read an integration's account."""
    return aws.SyncTarget(
        integration_name=integration.name,
        trust_anchor_arn=integration.trust_anchor_arn,
        profile_arn=integration.sync_profile_arn,
        role_arn=integration.sync_role_arn,
        accepts_role_session_name=integration.sync_profile_accepts_role_session_name,
        partition=integration.partition,
        region=integration.region,
        account_id=integration.account_id,
    )


def _listed_profile(detail: dict[str, Any]) -> ListedProfile:
    """Check one ProfileDetail; raise ValueError naming what is wrong."""
    arn = detail.get("profileArn")
    name = detail.get("name")
    if not isinstance(arn, str) or not isinstance(name, str):
        raise ValueError("the profile has no profileArn or name")
    parsed = parse_profile_arn(arn)
    role_arns = detail.get("roleArns") or []
    if not isinstance(role_arns, list):
        raise ValueError("roleArns is not a list")
    valid_roles: list[str] = []
    for role_arn in role_arns:
        try:
            valid_roles.append(parse_role_arn(role_arn).arn)
        except ArnError:
            # A role ARN Rolegate cannot parse is never offered; the others still are.
            log.warning("profile %s lists an unparseable role ARN %r; ignoring it", arn, role_arn)
    duration = detail.get("durationSeconds") or 3600
    if not isinstance(duration, int) or duration <= 0:
        raise ValueError(f"durationSeconds {duration!r} is not a positive integer")
    return ListedProfile(
        arn=parsed.arn,
        name=name,
        role_arns=sorted(set(valid_roles)),
        duration_seconds=duration,
        accept_role_session_name=bool(detail.get("acceptRoleSessionName", False)),
        partition=parsed.partition,
        region=parsed.region,
        account_id=parsed.account_id,
    )


def fetch_listing(
    plane: aws.ControlPlane,
    *,
    sync_profile_arn: str,
    filters: tuple[ValueMatcher, ...],
    progress: Progress | None = None,
) -> Listing:
    """List every profile page, then fetch the tags of each kept profile. No database access."""
    listing = Listing()
    invalid = listing.invalid
    try:
        for page_number, page in enumerate(plane.list_profile_pages(), start=1):
            for detail in page:
                listing.seen += 1
                if isinstance(detail.get("profileArn"), str):
                    listing.seen_arns.add(detail["profileArn"])
                if detail.get("profileArn") == sync_profile_arn:
                    listing.skipped += 1
                    continue
                if not detail.get("enabled", False):
                    listing.skipped += 1
                    continue
                name = detail.get("name")
                # Filters first, so filtered-out profiles cost no ListTagsForResource call.
                if not isinstance(name, str) or not profile_name_matches(name, filters):
                    listing.skipped += 1
                    continue
                try:
                    listing.profiles.append(_listed_profile(detail))
                except (ValueError, ArnError) as error:
                    invalid.append(f"profile {name!r}: {error}")
            if progress:
                progress("list", page_number, 0)
    except AwsError as error:
        listing.error = f"listing the Roles Anywhere profiles failed: {error}"
        listing.transient = isinstance(error, TransientError)
        listing.calls = plane.calls
        return listing
    if sync_profile_arn not in listing.seen_arns:
        # The sync has just signed in through this profile, so it exists: a listing without
        # it is missing pages (a dropped nextToken, an empty answer), whatever else it holds.
        listing.error = (
            f"the listing is incomplete: it does not contain Rolegate's own sync profile "
            f"{sync_profile_arn}, which exists (the sync signed in with it)"
        )
        listing.calls = plane.calls
        return listing

    total = len(listing.profiles)
    consecutive_failures = 0
    gone: list[ListedProfile] = []
    # Tag reads overlap in a small pool (the pacer still spaces them to the quota); answers are
    # taken in listing order, so the consecutive-failure rule reads them as one at a time would,
    # and at most TAG_READ_WORKERS reads are in flight when it stops the run.
    workers = max(1, int(getattr(settings, "ROLEGATE_PROFILE_SYNC_TAG_WORKERS", TAG_READ_WORKERS)))
    pending = iter(enumerate(listing.profiles, start=1))
    window: deque[tuple[int, ListedProfile, Future[dict[str, str]]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tags") as pool:

        def fill() -> None:
            while len(window) < workers:
                item = next(pending, None)
                if item is None:
                    return
                index, profile = item
                window.append((index, profile, pool.submit(plane.list_tags, profile.arn)))

        fill()
        while window:
            index, profile, future = window.popleft()
            try:
                profile.tags = future.result()
                consecutive_failures = 0
            except ResourceNotFoundError:
                # Deleted between ListProfiles and now: it is gone, not broken.
                gone.append(profile)
                consecutive_failures = 0
            except AwsError as error:
                profile.error = f"reading its tags failed: {error}"
                profile.transient = isinstance(error, TransientError)
                consecutive_failures += 1
                if consecutive_failures >= CONSECUTIVE_TAG_FAILURES_LIMIT:
                    for _, _, queued in window:
                        queued.cancel()
                    listing.error = (
                        f"stopped after {consecutive_failures} consecutive ListTagsForResource "
                        f"failures; last: {error}"
                    )
                    listing.transient = isinstance(error, TransientError)
                    listing.calls = plane.calls
                    return listing
            if progress:
                progress("tags", index, total)
            fill()
    # A profile tagged as Rolegate's own (another integration's sync profile in the same
    # account) is never an app: it would hand its sync role to whoever may launch it.
    own = {p.arn for p in listing.profiles if p.tags is not None and is_rolegate_owned(p.tags)}
    dropped = own | {p.arn for p in gone}
    listing.skipped += len(own)
    listing.profiles = [p for p in listing.profiles if p.arn not in dropped]
    listing.complete = True
    listing.calls = plane.calls
    return listing
