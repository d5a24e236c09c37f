"""Writes on integrations: create/replace/delete (audited) and the profile sync.

The sync lists first and writes once: every AWS call happens before the one transaction that
upserts apps, so a failure part-way leaves the previous state untouched, and an app is removed
only when a complete listing no longer yields its profile.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.access.engine.labels import ValueMatcher
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.registry import ResourceError, ResourceExists, ResourceNotFound
from apps.integrations import aws
from apps.integrations.models import Integration, SyncRun
from apps.integrations.naming import AppNameError, app_labels, app_name_for
from apps.integrations.spec import (
    IntegrationSpec,
    compile_profile_name_filters,
    profile_name_matches,
)
from apps.resources.models import AwsApp
from awsra.arn import ArnError, parse_profile_arn, parse_role_arn
from awsra.errors import AwsError, ResourceNotFoundError, TransientError
from awsra.partitions import get_partition

log = logging.getLogger(__name__)

MAX_ERROR_MESSAGE_BYTES = 100 * 1024
CONSECUTIVE_TAG_FAILURES_LIMIT = 3
# Namespace of the Postgres advisory locks taken by the sync ("RGSY").
_ADVISORY_NAMESPACE = 0x52475359

Progress = Callable[[str, int, int], None]


# -- integration CRUD ------------------------------------------------------------------------


def _snapshot(integration: Integration | None) -> dict[str, Any] | None:
    if integration is None:
        return None
    return {
        "sub_kind": integration.sub_kind,
        "trust_anchor_arn": integration.trust_anchor_arn,
        "sync_enabled": integration.sync_enabled,
        "sync_profile_arn": integration.sync_profile_arn,
        "sync_role_arn": integration.sync_role_arn,
        "sync_profile_accepts_role_session_name": (
            integration.sync_profile_accepts_role_session_name
        ),
        "profile_name_filters": list(integration.profile_name_filters),
    }


def _enqueue_sync(integration_id: int, trigger: str) -> None:
    """Queue a sync now; if the broker is down the scheduled sync picks the change up later."""
    from apps.integrations.tasks import sync_integration

    try:
        sync_integration.delay(integration_id, trigger)
    except Exception:  # any broker failure; the beat schedule is the safety net
        log.warning(
            "could not queue a sync of integration %s; the next scheduled run will do it",
            integration_id,
            exc_info=True,
        )


def integration_apply(
    *, actor: Any, spec: IntegrationSpec, force: bool = False, request_sync: bool = True
) -> Integration:
    """Create an integration (or with ``force`` replace it), audit it, and queue a sync after
    commit when its sync configuration changed."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().filter(name=spec.name).first()
        if integration is not None and not force:
            raise ResourceExists(
                f"integration {spec.name!r} already exists (use --force to replace it)"
            )
        if integration is not None and integration.sub_kind != spec.sub_kind:
            raise ResourceError(
                f"sub_kind cannot change (is {integration.sub_kind!r}, got {spec.sub_kind!r})",
                field="sub_kind",
            )
        before = _snapshot(integration)
        if integration is None:
            integration = Integration(name=spec.name, sub_kind=spec.sub_kind)
        integration.trust_anchor_arn = spec.trust_anchor_arn
        integration.partition = spec.partition
        integration.region = spec.region
        integration.account_id = spec.account_id
        integration.sync_enabled = spec.sync_enabled
        integration.sync_profile_arn = spec.sync_profile_arn
        integration.sync_role_arn = spec.sync_role_arn
        integration.sync_profile_accepts_role_session_name = (
            spec.sync_profile_accepts_role_session_name
        )
        integration.profile_name_filters = list(spec.profile_name_filters)
        after = _snapshot(integration)
        if before == after:
            return integration
        integration.save()
        audit_record(
            event_type="integration.created" if before is None else "integration.updated",
            actor=actor,
            target_kind="integration",
            target_name=integration.name,
            details={"before": before, "after": after},
        )
        if request_sync and integration.sync_enabled:
            integration_id = integration.pk
            transaction.on_commit(lambda: _enqueue_sync(integration_id, SyncRun.Trigger.CHANGE))
    return integration


def integration_delete(*, actor: Any, name: str) -> None:
    """Delete an integration with its apps and run history, and audit it."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().filter(name=name).first()
        if integration is None:
            raise ResourceNotFound(f"integration {name!r} not found")
        snapshot = _snapshot(integration)
        app_names = list(integration.apps.order_by("name").values_list("name", flat=True))
        integration.delete()
        audit_record(
            event_type="integration.deleted",
            actor=actor,
            target_kind="integration",
            target_name=name,
            details={"before": snapshot, "apps_removed": len(app_names), "apps": app_names[:100]},
        )


def integration_sync_request(*, actor: Any, name: str, trigger: str = "admin") -> None:
    """Queue a sync of one integration after commit (the admin's "Sync now"), audited."""
    with transaction.atomic():
        integration = Integration.objects.filter(name=name).first()
        if integration is None:
            raise ResourceNotFound(f"integration {name!r} not found")
        if not integration.sync_enabled:
            raise ResourceError(f"profile sync is disabled for integration {name!r}")
        audit_record(
            event_type="integration.sync_requested",
            actor=actor,
            target_kind="integration",
            target_name=name,
        )
        integration_id = integration.pk
        transaction.on_commit(lambda: _enqueue_sync(integration_id, trigger))


# -- the non-blocking per-integration lock ---------------------------------------------------


def lock_stale_after() -> timedelta:
    """How long a "running" marker protects a run (past the task's hard time limit)."""
    return timedelta(seconds=int(settings.ROLEGATE_PROFILE_SYNC_TIME_LIMIT) + 60)


@contextmanager
def sync_lock(integration_id: int) -> Iterator[str | None]:
    """Take the integration's sync lock without waiting; yield a token, or None if held.

    PostgreSQL: a session advisory lock (released even if the worker dies, with its
    connection). Everywhere: a "running" marker set by one conditional UPDATE, which is atomic
    on SQLite too and expires after `lock_stale_after()` if a worker died holding it.
    """
    token = secrets.token_hex(16)
    now = timezone.now()
    advisory = False
    key = (_ADVISORY_NAMESPACE, int(integration_id) % 2**31)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            row = cursor.fetchone()
            advisory = bool(row and row[0])
        if not advisory:
            yield None
            return
        # Holding the advisory lock proves no live worker runs; a leftover marker is stale.
        marker = Integration.objects.filter(pk=integration_id)
    else:
        marker = Integration.objects.filter(pk=integration_id).filter(
            Q(sync_lock_until__isnull=True) | Q(sync_lock_until__lt=now)
        )
    try:
        taken = marker.update(sync_lock_token=token, sync_lock_until=now + lock_stale_after())
        if not taken:
            yield None
            return
        try:
            yield token
        finally:
            Integration.objects.filter(pk=integration_id, sync_lock_token=token).update(
                sync_lock_token="", sync_lock_until=None
            )
    finally:
        if advisory:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


# -- the profile sync ------------------------------------------------------------------------


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


@dataclass
class SyncOutcome:
    """The result of one `integration_sync` call (also the Celery task's JSON result)."""

    integration: str
    status: str
    run_id: int | None = None
    profiles_seen: int = 0
    profiles_synced: int = 0
    apps_created: int = 0
    apps_updated: int = 0
    apps_deleted: int = 0
    profiles_skipped: int = 0
    profile_errors: int = 0
    error_message: str = ""
    transient: bool = False
    aws_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


def cap_error_message(lines: list[str]) -> str:
    """Join error lines, cut to 100 KB (UTF-8) with a marker saying how many lines were left out."""
    text = "\n".join(line for line in lines if line)
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_ERROR_MESSAGE_BYTES:
        return text
    marker = "\n... (truncated: the full list exceeded 100 KB)"
    budget = MAX_ERROR_MESSAGE_BYTES - len(marker.encode("utf-8"))
    return encoded[:budget].decode("utf-8", "ignore") + marker


def _target(integration: Integration) -> aws.SyncTarget:
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

    total = len(listing.profiles)
    consecutive_failures = 0
    gone: list[ListedProfile] = []
    for index, profile in enumerate(listing.profiles, start=1):
        try:
            profile.tags = plane.list_tags(profile.arn)
            consecutive_failures = 0
        except ResourceNotFoundError:
            # Deleted between ListProfiles and now: it is gone, not broken.
            gone.append(profile)
            consecutive_failures = 0
        except AwsError as error:
            profile.error = f"reading its tags failed: {error}"
            consecutive_failures += 1
            if consecutive_failures >= CONSECUTIVE_TAG_FAILURES_LIMIT:
                listing.error = (
                    f"stopped after {consecutive_failures} consecutive ListTagsForResource "
                    f"failures; last: {error}"
                )
                listing.transient = isinstance(error, TransientError)
                listing.calls = plane.calls
                return listing
        if progress:
            progress("tags", index, total)
    listing.profiles = [p for p in listing.profiles if p not in gone]
    listing.complete = True
    listing.calls = plane.calls
    return listing


def _upload_crl(plane: aws.ControlPlane, integration: Integration) -> tuple[str, str]:
    """Import (first time) or update the CA's revocation list in the trust anchor when its
    version changed. Return (outcome, error message)."""
    try:
        from apps.authority.selectors import crl_pem
    except ImportError:
        return "unavailable", ""
    try:
        pem, version = crl_pem()
    except Exception as error:  # the authority may not be initialised yet
        return "error", f"revocation list: the authority could not produce it: {error}"
    if integration.crl_arn and integration.crl_uploaded_version == version:
        return "unchanged", ""
    data = pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
    crl_arn = integration.crl_arn
    try:
        if not crl_arn:
            # A previous run may have imported it and then failed to record it: reuse by name.
            try:
                for crl in plane.list_crls():
                    if (
                        crl.get("name") == aws.CRL_NAME
                        and crl.get("trustAnchorArn") == integration.trust_anchor_arn
                    ):
                        crl_arn = str(crl["crlArn"])
                        break
            except AwsError as error:
                log.info("ListCrls failed (%s); importing the revocation list", error.code)
        if crl_arn:
            try:
                detail = plane.update_crl(crl_id=crl_arn.rsplit("/", 1)[-1], data=data)
                outcome = "updated"
            except ResourceNotFoundError:
                crl_arn = ""
        if not crl_arn:
            detail = plane.import_crl(
                name=aws.CRL_NAME, data=data, trust_anchor_arn=integration.trust_anchor_arn
            )
            outcome = "imported"
    except AwsError as error:
        return "error", f"uploading the revocation list to the trust anchor failed: {error}"
    Integration.objects.filter(pk=integration.pk).update(
        crl_arn=str(detail.get("crlArn") or crl_arn), crl_uploaded_version=version
    )
    return outcome, ""


def _desired_fields(profile: ListedProfile, name: str, integration_name: str) -> dict[str, Any]:
    assert profile.tags is not None
    return {
        "name": name,
        "profile_name": profile.name,
        "labels": app_labels(
            tags=profile.tags,
            account_id=profile.account_id,
            integration_name=integration_name,
            profile_arn=profile.arn,
        ),
        "account_id": profile.account_id,
        "region": profile.region,
        "partition": profile.partition,
        "role_arns": profile.role_arns,
        "accept_role_session_name": profile.accept_role_session_name,
        "duration_seconds": profile.duration_seconds,
        "console_url": get_partition(profile.partition).console_url,
        "sync_error": "",
    }


_APP_FIELDS = (
    "name",
    "profile_name",
    "labels",
    "account_id",
    "region",
    "partition",
    "role_arns",
    "accept_role_session_name",
    "duration_seconds",
    "console_url",
    "sync_error",
)


@dataclass
class _Changes:
    created: list[AwsApp] = field(default_factory=list)
    updated: list[AwsApp] = field(default_factory=list)
    deleted: list[AwsApp] = field(default_factory=list)
    synced: int = 0
    errors: list[str] = field(default_factory=list)


def _plan_changes(
    integration: Integration, listing: Listing, existing: list[AwsApp], now: datetime
) -> _Changes:
    """Compare the listing with the stored apps: what to create, update, delete; which errors."""
    changes = _Changes()
    by_arn = {app.profile_arn: app for app in existing}
    owner_of_name = {app.name: app.profile_arn for app in existing}
    error_of: dict[str, str] = {}
    names: dict[str, str] = {}
    for profile in listing.profiles:
        if profile.error:
            error_of[profile.arn] = profile.error
            continue
        assert profile.tags is not None
        try:
            names[profile.arn] = app_name_for(profile.name, profile.tags, integration.name)
        except AppNameError as error:
            error_of[profile.arn] = str(error)

    # Collisions after sanitizing: the profile already owning the name keeps it (so a new
    # profile cannot steal a live app's name), otherwise the first one listed.
    claims: dict[str, list[ListedProfile]] = {}
    for profile in listing.profiles:
        if profile.arn in names:
            claims.setdefault(names[profile.arn], []).append(profile)
    for name, group in claims.items():
        if len(group) < 2:
            continue
        owner = owner_of_name.get(name)
        winner = next((p for p in group if p.arn == owner), group[0])
        for loser in group:
            if loser is not winner:
                error_of[loser.arn] = (
                    f"app name {name!r} collides with profile {winner.name!r} ({winner.arn}), "
                    "which keeps it; rename one of the profiles or set a "
                    "RolegateApplicationName tag"
                )
                del names[loser.arn]

    taken = dict(
        AwsApp.objects.filter(name__in=list(names.values()))
        .exclude(integration=integration)
        .values_list("name", "integration__name")
    )
    for arn, name in list(names.items()):
        if name in taken:
            error_of[arn] = (
                f"app name {name!r} is already used by an app of integration {taken[name]!r}"
            )
            del names[arn]

    for profile in listing.profiles:
        app = by_arn.get(profile.arn)
        if profile.arn in error_of:
            message = error_of[profile.arn]
            changes.errors.append(f"profile {profile.name!r} ({profile.arn}): {message}")
            if app is not None and app.sync_error != message:
                app.sync_error = message
                app.updated_at = now
                changes.updated.append(app)
            continue
        desired = _desired_fields(profile, names[profile.arn], integration.name)
        changes.synced += 1
        if app is None:
            changes.created.append(
                AwsApp(
                    integration=integration,
                    profile_arn=profile.arn,
                    last_confirmed_at=now,
                    created_at=now,
                    updated_at=now,
                    **desired,
                )
            )
            continue
        if any(getattr(app, key) != value for key, value in desired.items()):
            for key, value in desired.items():
                setattr(app, key, value)
            app.last_confirmed_at = now
            app.updated_at = now
            changes.updated.append(app)

    if listing.complete:
        listed = {profile.arn for profile in listing.profiles}
        changes.deleted = [app for app in existing if app.profile_arn not in listed]
    return changes


def _write_changes(changes: _Changes) -> None:
    """Apply the plan with a constant number of statements, whatever the number of apps."""
    if changes.deleted:
        AwsApp.objects.filter(pk__in=[app.pk for app in changes.deleted]).delete()
    if changes.updated:
        stored_names = dict(
            AwsApp.objects.filter(pk__in=[app.pk for app in changes.updated]).values_list(
                "pk", "name"
            )
        )
        renamed = [app for app in changes.updated if stored_names.get(app.pk) != app.name]
        if renamed:
            # Unique names are checked row by row, so a swap (a -> b, b -> a) needs a detour
            # through names no app can have.
            final = {app.pk: app.name for app in renamed}
            for app in renamed:
                app.name = f"~renaming~{app.pk}"
            AwsApp.objects.bulk_update(renamed, ["name"])
            for app in renamed:
                app.name = final[app.pk]
        AwsApp.objects.bulk_update(
            changes.updated, [*_APP_FIELDS, "last_confirmed_at", "updated_at"]
        )
    if changes.created:
        AwsApp.objects.bulk_create(changes.created)


def _finish(run: SyncRun, **fields: Any) -> SyncRun:
    for key, value in fields.items():
        setattr(run, key, value)
    run.ended_at = timezone.now()
    run.save()
    return run


def _outcome(run: SyncRun, *, transient: bool = False, calls: int = 0) -> SyncOutcome:
    return SyncOutcome(
        integration=run.integration.name,
        status=run.status,
        run_id=run.pk,
        profiles_seen=run.profiles_seen,
        profiles_synced=run.profiles_synced,
        apps_created=run.apps_created,
        apps_updated=run.apps_updated,
        apps_deleted=run.apps_deleted,
        profiles_skipped=run.profiles_skipped,
        profile_errors=run.profile_errors,
        error_message=run.error_message,
        transient=transient,
        aws_calls=calls,
    )


INTERRUPTED_MESSAGE = (
    "interrupted: the worker stopped before this run finished (killed or restarted); "
    "no app was changed by it"
)


def _close_interrupted_runs(integration: Integration, now: datetime) -> int:
    """End, as errors, the runs a dead worker left RUNNING; called with the sync lock held.

    Holding the lock proves no live worker is inside a sync of this integration, and a run
    writes its apps and its final status in one transaction, so a RUNNING row is a run that
    died before changing anything. Without this it would read "running" forever.
    """
    return SyncRun.objects.filter(integration=integration, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.ERROR, ended_at=now, error_message=INTERRUPTED_MESSAGE
    )


def integration_sync(
    *,
    name: str,
    trigger: str = SyncRun.Trigger.COMMAND,
    progress: Progress | None = None,
    sign_in: Callable[[aws.SyncTarget], Any] | None = None,
) -> SyncOutcome:
    """Sync one integration's Roles Anywhere profiles into AWS apps; every call leaves a run row.

    Skips (with a SKIPPED row) when another sync of the integration holds the lock. Raises
    ResourceNotFound for an unknown integration and ResourceError when its sync is disabled.
    """
    integration = Integration.objects.filter(name=name).first()
    if integration is None:
        raise ResourceNotFound(f"integration {name!r} not found")
    if not integration.sync_enabled:
        raise ResourceError(f"profile sync is disabled for integration {name!r}")
    with sync_lock(integration.pk) as token:
        started = timezone.now()
        if token is None:
            run = SyncRun.objects.create(
                integration=integration,
                trigger=trigger,
                status=SyncRun.Status.SKIPPED,
                started_at=started,
                ended_at=started,
                error_message="skipped: another sync of this integration is running",
            )
            return _outcome(run)
        _close_interrupted_runs(integration, started)
        run = SyncRun.objects.create(integration=integration, trigger=trigger, started_at=started)
        try:
            return _run_sync(integration, run, progress, sign_in)
        except Exception as error:
            # A bug or a database failure: record it where operators look, then re-raise.
            log.exception("profile sync of integration %s failed unexpectedly", name)
            _finish(
                run,
                status=SyncRun.Status.ERROR,
                error_message=cap_error_message(
                    [f"internal error: {type(error).__name__}: {error}"]
                ),
            )
            raise


def _run_sync(
    integration: Integration,
    run: SyncRun,
    progress: Progress | None,
    sign_in: Callable[[aws.SyncTarget], Any] | None,
) -> SyncOutcome:
    target = _target(integration)
    try:
        filters = compile_profile_name_filters(integration.profile_name_filters)
    except ResourceError as error:
        _finish(run, status=SyncRun.Status.ERROR, error_message=f"invalid configuration: {error}")
        return _outcome(run)
    try:
        plane = aws.control_plane_for(target, sign_in or aws.sign_in_as_rolegate)
    except (AwsError, ArnError, ValueError) as error:
        _finish(
            run,
            status=SyncRun.Status.ERROR,
            error_message=cap_error_message([f"failed to sign in as Rolegate: {error}"]),
        )
        return _outcome(run, transient=isinstance(error, TransientError))

    listing = fetch_listing(
        plane, sync_profile_arn=integration.sync_profile_arn, filters=filters, progress=progress
    )
    if not listing.complete:
        _finish(
            run,
            status=SyncRun.Status.ERROR,
            profiles_seen=listing.seen,
            profiles_skipped=listing.skipped,
            error_message=cap_error_message(
                [listing.error, "no app was changed or removed; the next run will retry"]
            ),
        )
        return _outcome(run, transient=listing.transient, calls=plane.calls)

    crl_outcome, crl_error = _upload_crl(plane, integration)
    now = timezone.now()
    try:
        with transaction.atomic():
            locked = Integration.objects.select_for_update().filter(pk=integration.pk).first()
            if locked is None:
                # Deleted while we listed: its runs went with it, so there is nothing to record.
                return SyncOutcome(
                    integration=integration.name,
                    status="GONE",
                    error_message="the integration was deleted during the sync",
                )
            existing = list(AwsApp.objects.filter(integration=locked))
            changes = _plan_changes(locked, listing, existing, now)
            _write_changes(changes)
            errors = [*listing.invalid, *changes.errors, crl_error]
            Integration.objects.filter(pk=locked.pk).update(last_complete_listing_at=now)
            _finish(
                run,
                status=SyncRun.Status.ERROR if any(errors) else SyncRun.Status.SUCCESS,
                listing_complete=True,
                profiles_seen=listing.seen,
                profiles_synced=changes.synced,
                apps_created=len(changes.created),
                apps_updated=len(changes.updated),
                apps_deleted=len(changes.deleted),
                profiles_skipped=listing.skipped,
                profile_errors=len(changes.errors) + len(listing.invalid),
                crl_outcome=crl_outcome,
                error_message=cap_error_message(errors),
            )
            if changes.created or changes.updated or changes.deleted:
                audit_record(
                    event_type="integration.profiles_synced",
                    actor=None,
                    outcome=(
                        AuditEvent.Outcome.SUCCESS
                        if run.status == SyncRun.Status.SUCCESS
                        else AuditEvent.Outcome.ERROR
                    ),
                    target_kind="integration",
                    target_name=locked.name,
                    details={
                        "run_id": run.pk,
                        "created": sorted(app.name for app in changes.created)[:100],
                        "updated": sorted(app.name for app in changes.updated)[:100],
                        "deleted": sorted(app.name for app in changes.deleted)[:100],
                    },
                )
    except IntegrityError as error:
        # Another integration's sync took one of our names between our read and our write.
        run.refresh_from_db()
        _finish(
            run,
            status=SyncRun.Status.ERROR,
            profiles_seen=listing.seen,
            error_message=cap_error_message(
                [f"saving the apps failed, nothing was changed: {error}"]
            ),
        )
        return _outcome(run, transient=True, calls=plane.calls)
    return _outcome(run, calls=plane.calls)
