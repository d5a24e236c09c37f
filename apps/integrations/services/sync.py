"""The profile sync.

The sync lists first and writes once: every AWS call happens before the one transaction that
upserts apps, so a failure part-way leaves the previous state untouched, and an app is removed
only when a complete listing no longer yields its profile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.registry import ResourceError, ResourceNotFound
from apps.integrations import aws
from apps.integrations.errors import SyncDisabled
from apps.integrations.models import Integration, SyncRun
from apps.integrations.services.crl import crl_upload
from apps.integrations.services.listing import (
    ListedProfile,
    Listing,
    Progress,
    cap_error_message,
    fetch_listing,
    sync_target,
)
from apps.integrations.services.lock import sync_lock
from apps.integrations.spec import (
    compile_profile_name_filters,
)
from apps.resources.models import AwsApp
from apps.resources.naming import AppNameError, app_labels, app_name_for
from awsra.arn import ArnError
from awsra.errors import AwsError, ResourceNotFoundError, TransientError
from awsra.partitions import get_partition

log = logging.getLogger(__name__)


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
    _record_health_change(run)
    return run


def _record_health_change(run: SyncRun) -> None:
    """Audit the turn from success to failure and back (what webhooks announce), once each."""
    if run.status not in (SyncRun.Status.SUCCESS, SyncRun.Status.ERROR):
        return
    previous = (
        SyncRun.objects.filter(
            integration_id=run.integration_id,
            status__in=(SyncRun.Status.SUCCESS, SyncRun.Status.ERROR),
        )
        .exclude(pk=run.pk)
        .order_by("-started_at", "-id")
        .values_list("status", flat=True)
        .first()
    )
    failed = run.status == SyncRun.Status.ERROR
    if failed and previous == SyncRun.Status.ERROR:
        return  # still failing: announced when it started
    if not failed and previous != SyncRun.Status.ERROR:
        return  # healthy as before
    audit_record(
        event_type=events.INTEGRATION_SYNC_FAILED if failed else events.INTEGRATION_SYNC_RECOVERED,
        actor=None,
        outcome=AuditEvent.Outcome.ERROR if failed else AuditEvent.Outcome.SUCCESS,
        target_kind="integration",
        target_name=run.integration.name,
        details={
            "run_id": run.pk,
            "error": run.error_message.splitlines()[0] if failed and run.error_message else "",
        },
    )


def _database_label() -> str:
    settings_dict = connection.settings_dict
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or ""
    return f"database {settings_dict.get('NAME')!r} on {host}{':' if port else ''}{port}"


def sync_failure_record(run: SyncRun, error: BaseException) -> bool:
    """End a run that failed unexpectedly as ERROR; return whether that could be written.

    When the error is the database itself, the run's own connection is dead: the ERROR is
    written on a fresh connection (a few tries, the database may be coming back), with a
    message naming the database. If even that fails, the next run closes this one.
    """
    if isinstance(error, DatabaseError):
        message = (
            f"the sync lost its {_database_label()}: {type(error).__name__}: {error}; "
            "no app was changed by this run"
        )
    else:
        message = f"internal error: {type(error).__name__}: {error}"
    fields = {"status": SyncRun.Status.ERROR, "error_message": cap_error_message([message])}
    for attempt in range(RECORD_FAILURE_ATTEMPTS):
        try:
            SyncRun.objects.filter(pk=run.pk).update(ended_at=timezone.now(), **fields)
        except DatabaseError:
            if connection.in_atomic_block:
                break  # an outer transaction owns this connection: it cannot be replaced
            log.warning("recording the failed sync run %s: the database is not answering", run.pk)
            connection.close()
            time.sleep(min(0.5 * 2**attempt, 4.0))
            continue
        for key, value in fields.items():
            setattr(run, key, value)
        try:
            _record_health_change(run)
        except DatabaseError:
            log.warning("could not audit the failing sync of run %s", run.pk)
        return True
    log.error("could not record the failed sync run %s; the next run will close it", run.pk)
    return False


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
    "interrupted: the worker stopped (killed or restarted) or lost its database before this "
    "run finished; no app was changed by it"
)
RECORD_FAILURE_ATTEMPTS = 4


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
    allow_mass_delete: bool = False,
) -> SyncOutcome:
    """Sync one integration's Roles Anywhere profiles into AWS apps; every call leaves a run row.

    Skips (with a SKIPPED row) when another sync of the integration holds the lock. Raises
    ResourceNotFound for an unknown integration and SyncDisabled when its sync is disabled.
    """
    integration = Integration.objects.filter(name=name).first()
    if integration is None:
        raise ResourceNotFound(f"integration {name!r} not found")
    if not integration.sync_enabled:
        raise SyncDisabled(name)
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
            return _run_sync(integration, run, progress, sign_in, allow_mass_delete)
        except Exception as error:
            # A bug or a database failure: record it where operators look, then re-raise.
            log.exception("profile sync of integration %s failed unexpectedly", name)
            sync_failure_record(run, error)
            raise


# How many of the apps a listing would remove, though ListProfiles did not even name their
# profile, are checked one by one (ListTagsForResource answers 404 for a deleted profile).
VERIFY_MISSING_LIMIT = 5


def _deletion_refusal(
    integration: Integration,
    listing: Listing,
    plane: aws.ControlPlane,
    *,
    allow_mass_delete: bool,
) -> tuple[str, bool]:
    """Why this listing may not remove the apps it would remove ("" when it may), and whether
    the reason is transient (a check that AWS throttled or failed, worth retrying soon).

    A listing proves it is complete before it deletes: the profiles it dropped without naming
    them must really be gone in AWS, and it may not remove more than
    ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE of the apps, nor all of them, unless an operator
    confirmed it (`sync_profiles --allow-mass-delete`).
    """
    listed = {profile.arn for profile in listing.profiles}
    existing = list(
        AwsApp.objects.filter(integration=integration).values_list("profile_arn", "name")
    )
    removed = [(arn, name) for arn, name in existing if arn not in listed]
    if not removed:
        return "", False
    unnamed = [(arn, name) for arn, name in removed if arn not in listing.seen_arns]
    for arn, name in unnamed[:VERIFY_MISSING_LIMIT]:
        try:
            plane.list_tags(arn)
        except ResourceNotFoundError:
            continue
        except AwsError as error:
            return (
                f"the listing no longer names the profile of app {name!r} ({arn}) and "
                f"checking that the profile is gone failed: {error}"
            ), isinstance(error, TransientError)
        return (
            f"the listing is incomplete: it does not name the profile of app {name!r} "
            f"({arn}), which still exists in AWS"
        ), False
    if allow_mass_delete:
        return "", False
    share = float(settings.ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE)
    if len(removed) == len(existing) or len(removed) > share * len(existing):
        return (
            f"the listing would remove {len(removed)} of the {len(existing)} apps of this "
            f"integration, more than the {share:.0%} allowed by "
            "ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE (removing all of them always needs "
            "confirmation); if these profiles really are gone, run "
            f"`manage.py sync_profiles {integration.name} --allow-mass-delete`"
        ), False
    return "", False


def _run_sync(
    integration: Integration,
    run: SyncRun,
    progress: Progress | None,
    sign_in: Callable[[aws.SyncTarget], Any] | None,
    allow_mass_delete: bool = False,
) -> SyncOutcome:
    target = sync_target(integration)
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
                [listing.error, "nothing was removed or changed; the next run will retry"]
            ),
        )
        return _outcome(run, transient=listing.transient, calls=plane.calls)

    refusal, refusal_transient = _deletion_refusal(
        integration, listing, plane, allow_mass_delete=allow_mass_delete
    )
    if refusal:
        _finish(
            run,
            status=SyncRun.Status.ERROR,
            profiles_seen=listing.seen,
            profiles_skipped=listing.skipped,
            error_message=cap_error_message(
                [refusal, "nothing was removed or changed; the next run will check again"]
            ),
        )
        # Refused because a check or tag reads failed transiently (throttling): retry soon.
        transient = refusal_transient or listing.retry_soon
        return _outcome(run, transient=transient, calls=plane.calls)

    crl_outcome, crl_error = crl_upload(plane, integration)
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
                    event_type=events.INTEGRATION_PROFILES_SYNCED,
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
    # Only an ERROR run is retried; a transient tag failure makes it worth retrying soon.
    retry = run.status == SyncRun.Status.ERROR and listing.retry_soon
    return _outcome(run, transient=retry, calls=plane.calls)
