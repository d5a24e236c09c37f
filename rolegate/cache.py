"""The credential cache: one file per (proxy, user, app, role), reused until near expiry.

The AWS CLI runs credential_process for every command and never caches, so without this each
`aws s3 ls` would mint a certificate and call CreateSession (10 per second per account at most).
Reads are lock-free; a miss takes a per-entry file lock, re-reads, and only then fetches, so
parallel AWS CLI calls share one issuance. Standard library only: this runs on every hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rolegate import state
from rolegate.errors import CliError, ExitCode

TYPE_CHECKING = False  # typing itself costs ~3 ms on every AWS CLI call; mypy reads this as True
if TYPE_CHECKING:
    from typing import Any

# Reuse cached credentials until this long before they expire (the AWS CLI itself refreshes
# credential_process credentials when fewer than ~15 minutes remain only for long-running
# sessions; 5 minutes leaves room for the slowest single command).
REFRESH_MARGIN = timedelta(minutes=5)
FIELDS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")


def cache_dir() -> Path:
    """Where cached credentials live."""
    return state.home() / "cache"


def entry_key(proxy: str, user: str, app: str, role_arn: str) -> list[str]:
    """What a cache entry is for; stored in the entry and checked on every read."""
    return [proxy, user, app, role_arn]


def entry_path(key: list[str]) -> Path:
    """The cache file of one (proxy, user, app, role) combination."""
    digest = hashlib.sha256("\n".join(key).encode("utf-8")).hexdigest()
    return cache_dir() / f"{digest}.json"


def fresh_document(
    path: Path,
    key: list[str],
    now: datetime | None = None,
    *,
    margin: timedelta = REFRESH_MARGIN,
) -> dict[str, str | int] | None:
    """The cached credential_process document if it is intact and not near expiry, else None.

    A corrupted or truncated file is treated as a miss (and later overwritten). This is a
    freshness check, not the format's definition (awsra.credential_process validates what the
    server sends); it stays in the standard library so a cache hit starts fast.
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        # Malformed (cut short, not JSON, nested without end): discard it; the fetch rewrites it.
        path.unlink(missing_ok=True)
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    data = entry.get("credentials")
    if not isinstance(data, dict) or data.get("Version") != 1:
        return None
    if not all(isinstance(data.get(name), str) and data[name] for name in FIELDS):
        return None
    try:
        expiration = state.parse_time(data["Expiration"])
    except ValueError:
        return None
    if expiration - (now or datetime.now(UTC)) <= margin:
        return None
    return {"Version": 1, **{name: data[name] for name in FIELDS}}


def store(path: Path, key: list[str], document: dict[str, str | int]) -> None:
    """Write a credential_process document to the cache (0600, atomic), labelled with its key."""
    state.ensure_dir(path.parent)
    entry = {"key": key, "app": key[2], "credentials": document}
    state.write_private(path, json.dumps(entry))


def forget(app: str | None = None, proxy: str | None = None) -> int:
    """Remove cached credentials of one app (or all), of one portal (or all); return how many."""
    directory = cache_dir()
    if not directory.is_dir():
        return 0
    removed = 0
    for entry in directory.iterdir():
        if proxy is not None:
            if entry.suffix != ".json":
                continue
            try:
                stored = json.loads(entry.read_bytes()).get("key")
            except (OSError, ValueError, AttributeError, RecursionError):
                stored = None
            if not isinstance(stored, list) or not stored or stored[0] != proxy:
                continue
            if app is not None and (len(stored) < 3 or stored[2] != app):
                continue
            entry.unlink(missing_ok=True)
            removed += 1
            continue
        if app is None:
            # Everything goes, lock files included (logout: nothing should be fetching).
            removed += entry.suffix == ".json"
            entry.unlink(missing_ok=True)
            continue
        if entry.suffix != ".json":
            continue
        try:
            label = json.loads(entry.read_bytes()).get("app")
        except (OSError, ValueError, AttributeError, RecursionError):
            label = None
        # Unreadable entries are removed too: they would only ever be rewritten.
        if label is not None and label != app:
            continue
        entry.unlink(missing_ok=True)
        removed += 1
    return removed


# --- locks and failure markers -----------------------------------------------------------------

# A holder whose fetch failed leaves this for waiters, who then fail at once with the same code
# instead of each waiting for the proxy in turn (issue 17). Only waiters that were already
# waiting honour it, and only this long: a new command always tries for real.
FAILURE_MARKER_SECONDS = 10.0


class Lock:
    """An exclusive, bounded-wait lock on a 0600 file next to a cache entry (fcntl; stdlib only).

    `filelock` cost 44 ms of imports on every cache miss (issue 23); the lock file is opened
    with O_NOFOLLOW so a planted symlink cannot make rolegate create or truncate another file.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.descriptor: int | None = None

    def __enter__(self) -> Lock:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            descriptor = os.open(self.path, flags, 0o600)
        except OSError as error:
            raise CliError(
                f"cannot open the lock file {self.path}: {error.strerror}", ExitCode.LOCAL_CONFIG
            ) from None
        if os.fstat(descriptor).st_mode & 0o077:
            os.fchmod(descriptor, 0o600)
        deadline = time.monotonic() + self.timeout
        pause = 0.01
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks the first byte instead
            fcntl = None  # type: ignore[assignment]
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:  # pragma: no cover - Windows only
                    import msvcrt

                    msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
                break
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(descriptor)
                    raise TimeoutError(str(self.path)) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.2)
        self.descriptor = descriptor
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)  # closing releases the lock
            self.descriptor = None


def failure_path(path: Path) -> Path:
    """The failure marker of the cache entry `path`."""
    return path.with_suffix(".failed")


def record_failure(path: Path, error: CliError) -> None:
    """Leave a short-lived marker: the fetch for this entry just failed with `error`."""
    marker = {"code": int(error.code), "message": error.message, "at": time.time()}
    import contextlib

    with contextlib.suppress(OSError):  # only an optimisation for waiters
        state.write_private(failure_path(path), json.dumps(marker))


def recent_failure(path: Path, since: float) -> CliError | None:
    """The failure a holder recorded after `since` (a waiter's start), if still fresh."""
    try:
        marker: Any = json.loads(failure_path(path).read_bytes())
        at = float(marker["at"])
        code = ExitCode(int(marker["code"]))
        message = str(marker["message"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    if at < since or time.time() - at > FAILURE_MARKER_SECONDS:
        return None
    return CliError(message, code)


def clear_failure(path: Path) -> None:
    """Remove the failure marker after a successful fetch."""
    failure_path(path).unlink(missing_ok=True)


# --- what the proxy said about an app (roles, region), for role names and exec's region --------

APP_INFO_SECONDS = 15 * 60


def app_info_path(proxy: str, user: str, app: str) -> Path:
    """Where the roles and region of one app, as last listed, are kept."""
    digest = hashlib.sha256("\n".join(["app-info", proxy, user, app]).encode()).hexdigest()
    return cache_dir() / f"{digest}.app.json"


def load_app_info(proxy: str, user: str, app: str) -> dict[str, Any] | None:
    """The cached listing entry of `app` (validated when stored), unless stale or malformed."""
    path = app_info_path(proxy, user, app)
    try:
        entry = json.loads(path.read_bytes())
    except OSError:
        return None
    except (ValueError, RecursionError):
        path.unlink(missing_ok=True)
        return None
    if not isinstance(entry, dict) or entry.get("key") != [proxy, user, app]:
        return None
    at = entry.get("at")
    info = entry.get("info")
    if not isinstance(at, int | float) or not isinstance(info, dict):
        return None
    if not 0 <= time.time() - at <= APP_INFO_SECONDS:
        return None
    return info


def store_app_info(proxy: str, user: str, app: dict[str, Any]) -> None:
    """Remember a validated listing entry (0600, atomic)."""
    name = str(app["name"])
    path = app_info_path(proxy, user, name)
    state.ensure_dir(path.parent)
    entry = {"key": [proxy, user, name], "app": name, "at": time.time(), "info": app}
    state.write_private(path, json.dumps(entry))
