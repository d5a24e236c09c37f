"""The apps a user can reach, as the proxy lists them, and picking an app and a role from them.

`GET /api/v1/apps` answers either a plain list (older servers) or a page
`{"items": [...], "next_cursor": ...}` (with `?limit&cursor&q`); both are accepted and every
entry is validated (rolegate.validate.app_entry) before anything uses it.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlencode

from rolegate import cache, state
from rolegate.client import ApiClient
from rolegate.errors import CliError, ExitCode
from rolegate.validate import app_entry, escape, invalid, is_app_name

PAGE_LIMIT = 500
MAX_PAGES = 1000


def client_for(login: state.Login) -> ApiClient:
    """The API client of a login."""
    return ApiClient(login.proxy, token=login.token, ca_file=login.ca_file, insecure=login.insecure)


def list_apps(client: ApiClient, query: str = "") -> list[dict[str, Any]]:
    """Every app entry (all pages), validated; exit 9 for anything malformed."""
    apps: list[dict[str, Any]] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params = {"limit": str(PAGE_LIMIT)}
        if query:
            params["q"] = query
        if cursor:
            params["cursor"] = cursor
        data = client.call("GET", "/apps?" + urlencode(params))
        if isinstance(data, list):
            return [app_entry(item) for item in data]
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise invalid("the app list is neither a list nor a page of items")
        apps += [app_entry(item) for item in data["items"]]
        following = data.get("next_cursor")
        if following in (None, ""):
            return apps
        if not isinstance(following, str) or following in seen:
            raise invalid("the app list's next_cursor repeats or is not a string")
        seen.add(following)
        cursor = following
    raise invalid(f"the app list has more than {MAX_PAGES} pages")


def find_app(login: state.Login, name: str, *, use_cache: bool = True) -> dict[str, Any]:
    """The listing entry of app `name` (cached for a few minutes), or exit 7 with a suggestion."""
    if not is_app_name(name):
        raise CliError(
            f"app name {escape(name)!r} is not a valid app name "
            "(letters, digits and . _ @ + - only)",
            ExitCode.USAGE,
        )
    if use_cache:
        cached = cache.load_app_info(login.proxy, login.user, name)
        if cached is not None:
            return cached
    client = client_for(login)
    try:
        apps = list_apps(client, query=name)
        found = next((app for app in apps if app["name"] == name), None)
        if found is None:
            # A server that filters by `q` hid the near misses; ask for all, to suggest one.
            apps = list_apps(client)
            found = next((app for app in apps if app["name"] == name), None)
    finally:
        client.close()
    if found is None:
        import difflib

        names = [str(app["name"]) for app in apps]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else " (see rolegate apps ls)"
        raise CliError(
            f"app {name!r} was not found, or you are not allowed to use it{hint}",
            ExitCode.NOT_FOUND,
        )
    cache.store_app_info(login.proxy, login.user, found)
    return found


def role_name(arn: str) -> str:
    """The role name at the end of a role ARN."""
    return arn.rsplit("/", 1)[-1]


def resolve_role(app: dict[str, Any], wanted: str | None, *, interactive: bool = False) -> str:
    """An allowed role ARN from an ARN, a role name (or path/name), or nothing.

    Nothing is fine when the app offers exactly one role; with several, a picker on a terminal,
    otherwise an error that lists them.
    """
    allowed = [str(arn) for arn in app.get("aws_role_arns") or []]
    name = app.get("name", "")
    if not wanted:
        if len(allowed) == 1:
            return allowed[0]
        if not allowed:
            raise CliError(f"no AWS role of {name} is allowed for you", ExitCode.DENIED)
        if interactive and sys.stdin.isatty() and sys.stderr.isatty():
            return _pick(name, allowed)
        raise CliError(
            f"{name} offers several roles; pass --aws-role with one of: "
            + ", ".join(role_name(arn) for arn in allowed),
            ExitCode.USAGE,
        )
    if wanted.startswith("arn:"):
        if wanted in allowed:
            return wanted
        raise CliError(
            f"you are not allowed to assume {escape(wanted)} on {name} "
            f"(allowed: {', '.join(allowed) or 'none'})",
            ExitCode.DENIED,
        )
    matches = [
        arn for arn in allowed if role_name(arn) == wanted or arn.split(":role/", 1)[-1] == wanted
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        import difflib

        close = difflib.get_close_matches(wanted, [role_name(arn) for arn in allowed], n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise CliError(
            f"no role named {escape(wanted)!r} is allowed on {name} "
            f"(allowed: {', '.join(allowed) or 'none'}){hint}",
            ExitCode.NOT_FOUND,
        )
    raise CliError(
        f"role name {wanted!r} matches several roles on {name}: {', '.join(matches)}; "
        "pass the full ARN",
        ExitCode.USAGE,
    )


def _pick(app: str, allowed: list[str]) -> str:
    print(f"{app} offers several roles:", file=sys.stderr)
    for number, arn in enumerate(allowed, 1):
        print(f"  {number}) {arn}", file=sys.stderr)
    while True:
        print(f"Role [1-{len(allowed)}]: ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
        if not answer:
            raise CliError("no role chosen", ExitCode.USAGE)
        if answer.strip().isdigit() and 1 <= int(answer) <= len(allowed):
            return allowed[int(answer) - 1]
        if answer.strip() in [role_name(arn) for arn in allowed]:
            return next(arn for arn in allowed if role_name(arn) == answer.strip())
