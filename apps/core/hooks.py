"""Extension points through which an app calls one above it, which registers itself in ready().

No app imports an app of a higher layer (tests/architecture/test_import_graph.py); where a lower
app must reach up (accounts and access end live AWS sessions), the higher app plugs in here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from django.contrib.auth.models import AbstractUser

from apps.core.identity import Actor
from rbac.decision import AppFacts

# Each validator receives role names and raises apps.core.registry.ResourceError for unknown ones.
# apps.access appends its validator in AppConfig.ready().
role_name_validators: list[Callable[[list[str]], None]] = []


def validate_role_names(names: list[str]) -> None:
    """Run every registered role-name validator."""
    for validator in role_name_validators:
        validator(names)


# Called by audit_record with each event it writes, inside the event's transaction (apps.webhooks
# appends the outbox writer in ready()). An exception fails the write, like the event's own.
audit_event_listeners: list[Callable[[Any], None]] = []

# Called after a transaction that changed a CRL commits (a leaf revoked, a CRL re-signed), so the
# new list reaches the trust anchors at once. apps.integrations appends its push in ready().
crl_change_listeners: list[Callable[[], None]] = []


def notify_crl_changed() -> None:
    """Run every CRL-change listener; one failing listener never stops the others."""
    import logging

    for listener in crl_change_listeners:
        try:
            listener()
        except Exception:
            logging.getLogger(__name__).exception("a CRL change listener failed")


# -- the synced-app catalog ---------------------------------------------------------------------
# apps.resources owns the catalog (one cache, one invalidation) and registers its reader here, for
# the access pages below it (the explainer, the role preview) that list every synced app.
_synced_app_readers: list[Callable[[], list[AppFacts]]] = []


def register_synced_apps(reader: Callable[[], list[AppFacts]]) -> None:
    """Install the catalog's reader (apps.resources does, in ready())."""
    _synced_app_readers[:] = [reader]


def synced_apps() -> list[AppFacts]:
    """Every synced app as the access engine sees it."""
    if not _synced_app_readers:
        raise RuntimeError("no app catalog is registered (is apps.resources installed?)")
    return _synced_app_readers[0]()


# -- live-session revocation ---------------------------------------------------------------------
# The kill switch (apps.integrations.revocation) sits above the apps that change who reaches what
# (accounts, access, resources); it registers itself here in ready() and they call it through
# `session_revocation()`. A pair is (integration id, IAM role ARN).

Reach = set[tuple[int, str]]


class SessionRevocation(Protocol):
    """What the apps below the kill switch ask of it."""

    def in_use(self) -> bool:
        """Whether any integration has session revocation on (else no change has work)."""
        ...

    def reachable(self, user: AbstractUser, *, role_names: Sequence[str] | None = None) -> Reach:
        """The pairs the user reaches now (or with these role names) where revocation is on."""
        ...

    def revoke_lost(self, *, actor: Actor, user: AbstractUser, before: Reach, reason: str) -> int:
        """Revoke the user's sessions on the pairs of `before` they no longer reach."""
        ...

    def revoke_user(self, *, actor: Actor, user: AbstractUser) -> int:
        """Revoke every live session of the user (staff action)."""
        ...

    def revoke_app(self, *, actor: Actor, app_name: str) -> int:
        """Revoke every user's live sessions on one app's roles (staff action)."""
        ...

    def settle(self, *, integration_id: int, role_arn: str, username: str) -> None:
        """Wait (at most a second) until a fresh revocation of this user on this role is past."""
        ...


_session_revocation: list[SessionRevocation] = []


def register_session_revocation(implementation: SessionRevocation) -> None:
    """Install the kill switch (apps.integrations does, in ready())."""
    _session_revocation[:] = [implementation]


def session_revocation() -> SessionRevocation:
    """The installed kill switch; failing loudly without one (a silent no-op would fail open)."""
    if not _session_revocation:
        raise RuntimeError("no session revocation is registered (is apps.integrations installed?)")
    return _session_revocation[0]
