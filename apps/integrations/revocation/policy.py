"""The `RolegateRevokedSessions` inline policy: one Deny statement per revoked source identity.

Pure (no database, no AWS). Roles Anywhere sets each session's source identity from the leaf
certificate's CN (`CN=<cn>`), and every request made with the session's credentials carries
`aws:SourceIdentity` and `aws:TokenIssueTime`; so denying everything to one source identity
for tokens issued before the revocation time ends exactly that user's sessions issued before
it, while sessions issued later (a new grant) work at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "POLICY_NAME",
    "POLICY_SIZE_LIMIT",
    "PRUNE_AFTER",
    "Entry",
    "PolicyPlan",
    "plan_policy",
    "policy_size",
    "revocation_time",
    "source_identity_for",
]

POLICY_NAME = "RolegateRevokedSessions"
# IAM's limit on the aggregate size of a role's inline policies (characters, whitespace not
# counted). Rolegate keeps a margin for other inline policies an operator may have put there;
# PutRolePolicy answering LimitExceeded triggers the fallback too.
POLICY_SIZE_LIMIT = 10240
DEFAULT_SIZE_BUDGET = 8192
# The longest session AWS issues (12 h) plus an allowance for clock differences: an entry
# older than that can no longer match any live session and is pruned.
MAX_SESSION = timedelta(hours=12)
CLOCK_ALLOWANCE = timedelta(minutes=5)
PRUNE_AFTER = MAX_SESSION + CLOCK_ALLOWANCE

ALL_SESSIONS_SID = "RolegateRevokeAllSessionsBefore"


def source_identity_for(username: str) -> str:
    """The source identity Roles Anywhere gives a session of a certificate with CN `username`.

    `CN=<cn>` when the CN has at most 61 characters, the CN alone when it has 62 to 64 (so the
    value fits STS's 64-character limit), as the Roles Anywhere documentation specifies.
    """
    return f"CN={username}" if len(username) <= 61 else username[:64]


def revocation_time(now: datetime) -> datetime:
    """`now` rounded up to the whole second: aws:TokenIssueTime has whole seconds, so a token
    issued in the same second as the revocation is still covered."""
    stamp = now.astimezone(UTC)
    whole = stamp.replace(microsecond=0)
    return whole if whole == stamp else whole + timedelta(seconds=1)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Entry:
    """Sessions of `source_identity` ("" = every session) issued before `revoked_before`."""

    source_identity: str
    revoked_before: datetime


@dataclass(frozen=True)
class PolicyPlan:
    """The document to write (None: delete the policy) and whether the size fallback applies."""

    document: dict[str, Any] | None
    fallback: bool = False


def _sid(source_identity: str) -> str:
    # Sids are alphanumeric; a hash keeps them unique per identity and free of user input.
    return "RolegateRevoke" + hashlib.sha256(source_identity.encode()).hexdigest()[:20]


def _statement(entry: Entry) -> dict[str, Any]:
    condition: dict[str, Any] = {"DateLessThan": {"aws:TokenIssueTime": _iso(entry.revoked_before)}}
    if entry.source_identity:
        condition = {"StringEquals": {"aws:SourceIdentity": entry.source_identity}, **condition}
    return {
        "Sid": _sid(entry.source_identity) if entry.source_identity else ALL_SESSIONS_SID,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": condition,
    }


def _document(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def policy_size(document: dict[str, Any]) -> int:
    """The size IAM counts: the JSON text without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def plan_policy(
    entries: Iterable[Entry],
    *,
    now: datetime,
    size_budget: int = DEFAULT_SIZE_BUDGET,
    force_fallback: bool = False,
) -> PolicyPlan:
    """The policy for one role from its live entries (older than PRUNE_AFTER are ignored).

    When one statement per identity would not fit `size_budget`, fall back to AWS's own
    "revoke older sessions" shape: deny every session of the role issued before the latest
    revocation (other users must then fetch new credentials, which Rolegate does on demand).
    """
    live = [e for e in entries if e.revoked_before > now - PRUNE_AFTER]
    if not live:
        return PolicyPlan(document=None)
    live.sort(key=lambda e: (e.source_identity, e.revoked_before))
    everyone = [e for e in live if not e.source_identity]
    users = [e for e in live if e.source_identity]
    statements = [_statement(e) for e in users]
    if everyone:
        statements.append(_statement(max(everyone, key=lambda e: e.revoked_before)))
    document = _document(statements)
    if not force_fallback and policy_size(document) <= size_budget:
        return PolicyPlan(document=document)
    latest = max(e.revoked_before for e in live)
    return PolicyPlan(document=_document([_statement(Entry("", latest))]), fallback=True)
