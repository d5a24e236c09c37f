"""`rolegate request create/ls/show/cancel`: ask for roles for a while, and follow the review.

Uses the CLI's one API client and login (rolegate.commands / rolegate.state); the server decides
everything (which roles may be requested, durations, reasons), the CLI only shows its answers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rolegate.errors import CliError, ExitCode
from rolegate.validate import escape

DEFAULT_POLL_SECONDS = 3.0
# Keep polling a little past the review deadline: the server expires requests on its own beat.
DEADLINE_GRACE_SECONDS = 90.0


def add_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add `request create|ls|show` to the CLI's subcommands."""
    request = commands.add_parser("request", help="just-in-time access requests").add_subparsers(
        dest="request_command", metavar="COMMAND", parser_class=parser_class
    )
    request.required = True
    create = request.add_parser("create", help="request roles for a while")
    create.add_argument("--roles", required=True, help="role names, comma separated")
    create.add_argument("--reason", default="", help="why you need the access")
    create.add_argument("--duration", default="", help="access duration once approved, e.g. 4h")
    create.add_argument("--wait", action="store_true", help="wait until the request is decided")
    create.add_argument("--format", choices=("text", "json"), default="text")
    listing = request.add_parser("ls", help="list your access requests")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    show = request.add_parser("show", help="show one access request")
    show.add_argument("id", help="request id (or the short id that `request ls` prints)")
    show.add_argument("--format", choices=("text", "json"), default="text")
    cancel = request.add_parser("cancel", help="withdraw one of your pending access requests")
    cancel.add_argument("id", help="request id (or the short id that `request ls` prints)")
    cancel.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    """Run the parsed `request` subcommand."""
    if args.request_command == "create":
        return create(
            roles=args.roles,
            reason=args.reason,
            duration=args.duration,
            wait=args.wait,
            output_format=args.format,
        )
    if args.request_command == "ls":
        return list_requests(output_format=args.format)
    if args.request_command == "cancel":
        return cancel(request_id=args.id, output_format=args.format)
    return show(request_id=args.id, output_format=args.format)


def _api() -> Any:
    from rolegate import commands, state

    client = commands._client(state.require_login())
    # Reasons and comments are people's free text (a newline is fine there): they are not
    # refused, but every character the terminal would act on is escaped before printing.
    client.check_answers = False
    return client


def _poll_seconds() -> float:
    raw = os.environ.get("ROLEGATE_REQUEST_POLL_SECONDS", "")
    try:
        value = float(raw) if raw else DEFAULT_POLL_SECONDS
    except ValueError:
        raise CliError(
            f"ROLEGATE_REQUEST_POLL_SECONDS={raw!r} is not a number of seconds", ExitCode.USAGE
        ) from None
    return min(max(value, 0.1), 60.0)


def _short(request_id: str) -> str:
    return request_id.replace("-", "")[:8]


def _when(value: Any) -> str:
    if not value:
        return "-"
    from rolegate.state import parse_time

    try:
        return f"{parse_time(str(value)):%Y-%m-%d %H:%M:%S} UTC"
    except ValueError:
        return str(value)


def _state_line(item: dict[str, Any]) -> str:
    state = str(item.get("state", "?"))
    if state == "approved":
        return f"approved, access until {_when(item.get('access_ends_at'))}"
    if state == "pending":
        return f"pending review (deadline {_when(item.get('review_deadline'))})"
    if state == "ended":
        return f"access ended {_when(item.get('ended_at'))}"
    return state


def _print_request(item: dict[str, Any]) -> None:
    reviews = item.get("reviews") or []
    lines = [
        f"Request:    {item.get('id')}",
        f"Requester:  {item.get('requester')}",
        f"Roles:      {', '.join(item.get('roles') or [])}",
        f"Reason:     {item.get('reason') or '(none)'}",
        f"Duration:   {item.get('duration')}",
        f"State:      {_state_line(item)}",
        f"Needs:      {item.get('approvals_required')} approval(s), "
        f"{item.get('denials_required')} denial(s) to refuse",
        f"Created:    {_when(item.get('created_at'))}",
    ]
    if not reviews:
        lines.append("Reviews:    none yet")
    for index, review in enumerate(reviews):
        comment = f': "{review.get("comment")}"' if review.get("comment") else ""
        label = "Reviews:" if index == 0 else ""
        lines.append(f"{label:12}{review.get('decision')} by {review.get('reviewer')}{comment}")
    print("\n".join(escape(line) for line in lines))


def _emit(item: dict[str, Any], output_format: str) -> None:
    if output_format == "json":
        print(json.dumps(item, indent=2, sort_keys=True))
    else:
        _print_request(item)


def _request_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or "id" not in data or "state" not in data:
        raise CliError("the Rolegate proxy sent an unexpected access request", ExitCode.SERVER)
    return data


def create(*, roles: str, reason: str, duration: str, wait: bool, output_format: str) -> int:
    """Create a request; with `wait`, poll until it is decided (exit 0 only if approved)."""
    names = [name.strip() for name in roles.split(",") if name.strip()]
    if not names:
        raise CliError("--roles needs at least one role name", ExitCode.USAGE)
    client = _api()
    body = {"roles": names, "reason": reason, "duration": duration}
    item = _request_dict(client.call("POST", "/requests", body))
    if not wait:
        _emit(item, output_format)
        if output_format == "text":
            print(f"\nFollow it with: rolegate request show {item['id']}")
        return ExitCode.OK
    print(
        f"Access request {_short(item['id'])} for {', '.join(names)} created; "
        "waiting for reviewers (Ctrl-C stops waiting, not the request)...",
        file=sys.stderr,
    )
    final = wait_for_decision(client, item)
    _emit(final, output_format)
    return _outcome(final)


def wait_for_decision(
    client: Any,
    item: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Poll the request until it leaves `pending` (or its deadline passed, plus a grace)."""
    from rolegate.client import api_path
    from rolegate.state import parse_time

    interval = _poll_seconds()
    deadline = parse_time(str(item["review_deadline"]))
    while item.get("state") == "pending":
        if (now() - deadline).total_seconds() > DEADLINE_GRACE_SECONDS:
            item = {**item, "state": "expired"}
            break
        sleep(interval)
        item = _request_dict(client.call("GET", api_path("requests", str(item["id"]))))
    return item


def _outcome(item: dict[str, Any]) -> int:
    state = item.get("state")
    if state == "approved":
        print(f"Approved: the roles are yours until {_when(item.get('access_ends_at'))}.")
        return ExitCode.OK
    if state == "denied":
        raise CliError(f"access request {_short(str(item['id']))} was denied", ExitCode.DENIED)
    raise CliError(
        f"access request {_short(str(item['id']))} is {state}; no access was granted",
        ExitCode.DENIED,
    )


def _my_requests(client: Any) -> list[Any]:
    """Every one of the user's requests, following the server's cursor pages (issue 25).

    A server from before pagination answers a bare list; that is accepted as the whole list.
    """
    from urllib.parse import quote

    collected: list[Any] = []
    cursor = ""
    for _page in range(1000):
        path = "/requests?limit=500" + (f"&cursor={quote(cursor)}" if cursor else "")
        data = client.call("GET", path)
        if isinstance(data, list):
            return data
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise CliError("the Rolegate proxy sent an unexpected request list", ExitCode.SERVER)
        collected += data["items"]
        cursor = data.get("next_cursor") or ""
        if not cursor:
            break
    return collected


def list_requests(*, output_format: str) -> int:
    """List the user's requests."""
    data = _my_requests(_api())
    items = [_request_dict(entry) for entry in data]
    if output_format == "json":
        print(json.dumps(items, indent=2, sort_keys=True))
        return ExitCode.OK
    if not items:
        print("No access requests yet (rolegate request create --roles ROLE --reason TEXT).")
        return ExitCode.OK
    rows = [("ID", "Roles", "Duration", "State", "Created")]
    rows += [
        (
            _short(str(item["id"])),
            ",".join(item.get("roles") or []),
            str(item.get("duration", "")),
            _state_line(item),
            _when(item.get("created_at")),
        )
        for item in items
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print(escape("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    return ExitCode.OK


def show(*, request_id: str, output_format: str) -> int:
    """Show one request by its id or by the short id `request ls` prints."""
    from rolegate.client import api_path

    client = _api()
    wanted = request_id.strip().lower()
    if len(wanted.replace("-", "")) < 32:
        # A short id: resolve it among the user's own requests.
        if len(wanted) < 4:
            raise CliError("give at least 4 characters of the request id", ExitCode.USAGE)
        mine = _my_requests(client)
        matches = [
            str(entry["id"])
            for entry in mine
            if isinstance(entry, dict)
            and str(entry.get("id", "")).replace("-", "").startswith(wanted.replace("-", ""))
        ]
        if not matches:
            raise CliError(
                f"no access request of yours starts with {request_id!r}", ExitCode.NOT_FOUND
            )
        if len(matches) > 1:
            raise CliError(
                f"{request_id!r} matches several requests; give more of the id", ExitCode.USAGE
            )
        wanted = matches[0]
    _emit(_request_dict(client.call("GET", api_path("requests", wanted))), output_format)
    return ExitCode.OK


def _resolve_mine(client: Any, request_id: str) -> str:
    """The full id of one of the user's own requests, from a full or short id."""
    wanted = request_id.strip().lower()
    if len(wanted.replace("-", "")) >= 32:
        return wanted
    if len(wanted) < 4:
        raise CliError("give at least 4 characters of the request id", ExitCode.USAGE)
    mine = _my_requests(client)
    matches = [
        str(entry["id"])
        for entry in mine
        if isinstance(entry, dict)
        and str(entry.get("id", "")).replace("-", "").startswith(wanted.replace("-", ""))
    ]
    if not matches:
        raise CliError(f"no access request of yours starts with {request_id!r}", ExitCode.NOT_FOUND)
    if len(matches) > 1:
        raise CliError(
            f"{request_id!r} matches several requests; give more of the id", ExitCode.USAGE
        )
    return matches[0]


def cancel(*, request_id: str, output_format: str) -> int:
    """Withdraw one of the user's pending requests (the server refuses decided ones)."""
    from rolegate.client import api_path

    client = _api()
    wanted = _resolve_mine(client, request_id)
    item = _request_dict(client.call("POST", api_path("requests", wanted, "cancel"), {}))
    if output_format == "json":
        _emit(item, output_format)
    else:
        print(f"Withdrew access request {_short(str(item['id']))} ({','.join(item['roles'])}).")
    return ExitCode.OK
