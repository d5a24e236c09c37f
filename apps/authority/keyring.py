"""The key-encryption keys configured for this process (settings or a key file)."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from apps.authority.pki import CaKeyError, KeyEncryptionKey


@functools.lru_cache(maxsize=8)
def _derive(secrets_text: str) -> tuple[KeyEncryptionKey, ...]:
    parts = [part.strip() for part in secrets_text.replace("\n", ",").split(",")]
    return tuple(KeyEncryptionKey.from_secret(part) for part in parts if part)


@functools.lru_cache(maxsize=8)
def _read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise CaKeyError(
            f"ROLEGATE_CA_ENCRYPTION_KEY_FILE {path!r} cannot be read: {error.strerror}"
        ) from None


def configured_keks() -> tuple[KeyEncryptionKey, ...]:
    """Every configured KEK, the one that encrypts new keys first.

    ``ROLEGATE_CA_ENCRYPTION_KEY`` wins over ``ROLEGATE_CA_ENCRYPTION_KEY_FILE``; both may hold
    several keys separated by commas or newlines so an old key can still decrypt during a KEK
    rotation. Raises CaKeyError when none is configured or one is too short.
    """
    text: str = getattr(settings, "ROLEGATE_CA_ENCRYPTION_KEY", "") or ""
    source = "ROLEGATE_CA_ENCRYPTION_KEY"
    if not text.strip():
        path: str = getattr(settings, "ROLEGATE_CA_ENCRYPTION_KEY_FILE", "") or ""
        if not path:
            raise CaKeyError(
                "no CA encryption key is configured; set ROLEGATE_CA_ENCRYPTION_KEY or "
                "ROLEGATE_CA_ENCRYPTION_KEY_FILE"
            )
        text, source = _read_file(path), f"ROLEGATE_CA_ENCRYPTION_KEY_FILE ({path})"
    try:
        keks = _derive(text)
    except CaKeyError as error:
        raise CaKeyError(f"{source}: {error}") from None
    if not keks:
        raise CaKeyError(f"{source} is empty")
    return keks


def clear_cache() -> None:
    """Forget cached key files and derivations (tests that rewrite a key file call this)."""
    _derive.cache_clear()
    _read_file.cache_clear()
