"""What the request handlers and the seeds use of a running sandbox.

`Sandbox` (server.py) owns the parts and starts the server that calls the handlers; the handlers
(app, sessions, federation) and the seeds see it through this protocol, so none of them imports
the server that imports them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from .clock import Clock
from .faults import Faults
from .signin_tokens import SigninTokens
from .state import RolesAnywhereState


class SandboxParts(Protocol):
    """The shared state of one sandbox: clock, faults, Roles Anywhere state, sign-in tokens."""

    clock: Clock
    faults: Faults
    state: RolesAnywhereState
    signin_tokens: SigninTokens
    max_skew: timedelta
    seeded: dict[str, Any]
    clock_offset: timedelta

    def state_changed(self) -> None:
        """Called after each request that may have changed a resource (saved with a state file)."""

    def reset(self) -> None:
        """Forget every AWS resource, fault, token and clock skew; re-apply the start seed."""
