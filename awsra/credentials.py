"""Temporary AWS credentials as returned by Roles Anywhere CreateSession."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Credentials"]


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials; `expiration` is an aware UTC datetime. Secrets stay out of repr."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    assumed_role_arn: str | None = None
    source_identity: str | None = None

    def __post_init__(self) -> None:
        if self.expiration.tzinfo is None or self.expiration.utcoffset() is None:
            raise ValueError("Credentials.expiration must be a timezone-aware datetime")
        if self.expiration.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "expiration", self.expiration.astimezone(UTC))

    def __repr__(self) -> str:
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key='***', "
            f"session_token='***', expiration={self.expiration.isoformat()!r}, "
            f"assumed_role_arn={self.assumed_role_arn!r}, "
            f"source_identity={self.source_identity!r})"
        )

    __str__ = __repr__

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """Return True if the credentials expire within `seconds` of `now` (default: now)."""
        current = now or datetime.now(UTC)
        return (self.expiration - current).total_seconds() <= seconds
