"""The one username rule, for every way a user is made: `create -f`, the admin, single sign-on.

Usernames become certificate CNs (and so the source identity of AWS sessions), so the names
Rolegate itself puts in certificates are reserved: no user may take them.
"""

from __future__ import annotations

import re

__all__ = ["RESERVED_USERNAMES", "USERNAME_RE", "USERNAME_RULE", "username_problem"]

USERNAME_RE = re.compile(r"[A-Za-z0-9@.+_-]{1,150}\Z", re.ASCII)
USERNAME_RULE = "must be 1-150 letters, digits or '@', '.', '+', '-', '_'"
# CNs of Rolegate's own certificates (apps.integrations.aws.SYNC_SUBJECT_CN signs the profile
# sync in to AWS); a user with that name would share its AWS source identity.
RESERVED_USERNAMES = frozenset({"rolegate-profile-sync", "rolegate", "system"})


def username_problem(name: object) -> str:
    """Why `name` cannot be a username, or "" when it can."""
    if not isinstance(name, str) or not USERNAME_RE.match(name):
        return f"{name!r} {USERNAME_RULE}"
    if name.lower() in RESERVED_USERNAMES:
        return f"{name!r} is reserved for Rolegate's own certificates"
    return ""
