"""Console SigninTokens: what `getSigninToken` issued and `login` redeems (15 minutes, as AWS)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SigninGrant:
    """What a SigninToken stands for."""

    assumed_role_arn: str
    account_id: str
    expires_at: datetime
    session_duration: int | None


class SigninTokens:
    """Issued SigninTokens (valid 15 minutes, like AWS's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, SigninGrant] = {}

    def issue(self, grant: SigninGrant) -> str:
        """Store a grant and return its opaque token."""
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._grants[token] = grant
        return token

    def get(self, token: str, now: datetime) -> SigninGrant | None:
        """Return the live grant for a token, if any."""
        with self._lock:
            grant = self._grants.get(token)
        if grant is None or grant.expires_at < now:
            return None
        return grant

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._grants.clear()
