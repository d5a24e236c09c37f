"""CLI errors and their exit codes (documented in the README, section "CLI").

| Code | Name             | Meaning                                                               |
|------|------------------|-----------------------------------------------------------------------|
| 0    | OK               | success                                                               |
| 1    | ERROR            | unexpected failure (a bug: please report it)                          |
| 2    | USAGE            | bad command line or request (unknown option, ambiguous role name)     |
| 3    | NOT_LOGGED_IN    | no login, or the login expired or was revoked: run `rolegate login`   |
| 4    | UNREACHABLE      | the Rolegate proxy could not be reached (DNS, refused, timeout)       |
| 5    | TLS              | TLS failure talking to the proxy (certificate not trusted, mismatch)  |
| 6    | DENIED           | refused: wrong password, role not allowed, login denied, throttled    |
| 7    | NOT_FOUND        | unknown app, or no allowed role matches the name given                |
| 8    | AWS              | AWS refused or failed to issue the credentials                        |
| 9    | SERVER           | the proxy failed, or answered something that is not valid             |
| 10   | LOCAL_CONFIG     | a local file is unusable: malformed AWS config, a profile section     |
|      |                  | rolegate does not manage, unreadable state under ROLEGATE_HOME        |
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes; stable, because scripts and the AWS CLI act on them."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_LOGGED_IN = 3
    UNREACHABLE = 4
    TLS = 5
    DENIED = 6
    NOT_FOUND = 7
    AWS = 8
    SERVER = 9
    LOCAL_CONFIG = 10


# The one mapping of the API's errors (apps/core/errors.py DomainError: `code` and `status` in
# the JSON body and the answer) to exit codes. A code counts only with the status the portal
# gives it, so an answer whose code and status disagree falls back to the status rules of
# `rolegate.client.error_for` (older portals, proxies, hostile answers).
API_ERRORS: dict[str, tuple[int, ExitCode]] = {
    "bad_credentials": (401, ExitCode.DENIED),
    "not_authenticated": (401, ExitCode.NOT_LOGGED_IN),
    "access_denied": (403, ExitCode.DENIED),
    "app_not_found": (404, ExitCode.NOT_FOUND),
    "not_found": (404, ExitCode.NOT_FOUND),
    "rate_limited": (429, ExitCode.DENIED),
    "throttled": (429, ExitCode.DENIED),
    "invalid_launch": (400, ExitCode.USAGE),
    "invalid_request": (422, ExitCode.USAGE),
    # Rolegate will not issue for this request, account or authority as things stand.
    "issuance_refused": (422, ExitCode.DENIED),
    "aws_error": (502, ExitCode.AWS),  # AWS refused
    "aws_unavailable": (503, ExitCode.AWS),  # AWS could not be reached or was busy
    "audit_unavailable": (503, ExitCode.SERVER),
    "unavailable": (503, ExitCode.SERVER),
    "server_error": (500, ExitCode.SERVER),
}


def exit_code_for(status: int, code: str) -> ExitCode | None:
    """The exit code the table gives the API's `code` answered with `status`, else None."""
    entry = API_ERRORS.get(code)
    if entry is None or entry[0] != status:
        return None
    return entry[1]


class CliError(Exception):
    """An error for the user: one line on stderr and a documented exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always exactly one line
        self.code = code


def not_logged_in(reason: str = "not logged in") -> CliError:
    """The one error every command gives without a usable login."""
    return CliError(f"{reason}; run rolegate login", ExitCode.NOT_LOGGED_IN)
