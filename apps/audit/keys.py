"""The keys of the audit chain: configured outside the database, several for rotation.

``ROLEGATE_AUDIT_KEY`` (or ``ROLEGATE_AUDIT_KEY_FILE``, a file holding the same text) lists keys
separated by commas or newlines, each ``KEY_ID:SECRET`` or a bare ``SECRET`` (its id is then
derived from it). The first key seals new links and signs checkpoints; every key verifies, so
links sealed before a rotation keep verifying while the old key stays listed.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MIN_SECRET_LENGTH = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")


class AuditKeyError(Exception):
    """The audit key configuration is missing or unusable (message names the variable)."""


@dataclass(frozen=True)
class AuditKeyring:
    """The configured keys by id; ``signing_id`` seals new links."""

    signing_id: str
    keys: dict[str, bytes]

    @property
    def signing_key(self) -> bytes:
        """The secret of the key that seals new links."""
        return self.keys[self.signing_id]


def derived_key_id(secret: str) -> str:
    """The id of a key given without one: stable, and reveals nothing usable about it."""
    return "k" + hashlib.sha256(b"rolegate-audit-key-id:" + secret.encode()).hexdigest()[:8]


@functools.lru_cache(maxsize=8)
def parse_audit_keys(text: str, source: str) -> AuditKeyring:
    """Parse the key list; raises AuditKeyError naming ``source`` on a bad entry."""
    keys: dict[str, bytes] = {}
    first = ""
    for raw in text.replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        key_id, separator, secret = entry.partition(":")
        if not separator:
            key_id, secret = derived_key_id(entry), entry
        if not _KEY_ID.match(key_id):
            raise AuditKeyError(
                f"{source}: key id {key_id!r} must be 1 to 32 letters, digits, '.', '_' or '-'"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise AuditKeyError(
                f"{source}: key {key_id!r} is shorter than {MIN_SECRET_LENGTH} characters"
            )
        if key_id in keys:
            raise AuditKeyError(f"{source}: key id {key_id!r} is listed twice")
        keys[key_id] = secret.encode()
        first = first or key_id
    if not keys:
        raise AuditKeyError(f"{source} holds no key")
    return AuditKeyring(signing_id=first, keys=keys)


def audit_keyring() -> AuditKeyring:
    """The configured keyring; ``ROLEGATE_AUDIT_KEY`` wins over ``ROLEGATE_AUDIT_KEY_FILE``."""
    text = str(getattr(settings, "ROLEGATE_AUDIT_KEY", "") or "")
    if text.strip():
        return parse_audit_keys(text, "ROLEGATE_AUDIT_KEY")
    path = str(getattr(settings, "ROLEGATE_AUDIT_KEY_FILE", "") or "")
    if not path:
        raise AuditKeyError(
            "No audit key is configured: set ROLEGATE_AUDIT_KEY or ROLEGATE_AUDIT_KEY_FILE"
        )
    return parse_audit_keys(_read_key_file(path), "ROLEGATE_AUDIT_KEY_FILE")


def _read_key_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise AuditKeyError(
            f"ROLEGATE_AUDIT_KEY_FILE {path!r} cannot be read: {error.strerror}"
        ) from None
