"""The credential cache: one file per (proxy, user, app, role), reused until near expiry.

The AWS CLI runs credential_process for every command and never caches, so without this each
`aws s3 ls` would mint a certificate and call CreateSession (10 per second per account at most).
Reads are lock-free; a miss takes a per-entry file lock, re-reads, and only then fetches, so
parallel AWS CLI calls share one issuance. Standard library only: this runs on every hit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rolegate import state

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
    path: Path, key: list[str], now: datetime | None = None
) -> dict[str, str | int] | None:
    """The cached credential_process document if it is intact and not near expiry, else None.

    A corrupted or truncated file is treated as a miss (and later overwritten). This is a
    freshness check, not the format's definition (awsra.credential_process validates what the
    server sends); it stays in the standard library so a cache hit starts fast.
    """
    try:
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError):
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
    if expiration - (now or datetime.now(UTC)) <= REFRESH_MARGIN:
        return None
    return {"Version": 1, **{name: data[name] for name in FIELDS}}


def store(path: Path, key: list[str], document: dict[str, str | int]) -> None:
    """Write a credential_process document to the cache (0600, atomic), labelled with its key."""
    state.ensure_dir(path.parent)
    entry = {"key": key, "app": key[2], "credentials": document}
    state.write_private(path, json.dumps(entry))


def forget(app: str | None = None) -> int:
    """Remove cached credentials of one app (or all); return how many entries went."""
    directory = cache_dir()
    if not directory.is_dir():
        return 0
    removed = 0
    for entry in directory.iterdir():
        if app is None:
            # Everything goes, lock files included (logout: nothing should be fetching).
            removed += entry.suffix == ".json"
            entry.unlink(missing_ok=True)
            continue
        if entry.suffix != ".json":
            continue
        try:
            label = json.loads(entry.read_bytes()).get("app")
        except (OSError, ValueError, AttributeError):
            label = None
        # Unreadable entries are removed too: they would only ever be rewritten.
        if label is not None and label != app:
            continue
        entry.unlink(missing_ok=True)
        removed += 1
    return removed
