"""The interactive commands: login, logout, status, apps ls/login/logout."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from rolegate import cache, state
from rolegate.awsconfig import AwsConfig, check_app_name
from rolegate.client import ApiClient, normalize_proxy
from rolegate.errors import CliError, ExitCode

DEVICE_POLL_LIMIT_SECONDS = 15 * 60


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _client(login: state.Login) -> ApiClient:
    return ApiClient(login.proxy, token=login.token, ca_file=login.ca_file, insecure=login.insecure)


def _client_name() -> str:
    return f"rolegate CLI on {socket.gethostname()}"[:200]


def _remaining(expires: datetime) -> str:
    seconds = int((expires - datetime.now(UTC)).total_seconds())
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    return f"valid for {hours}h{rest // 60}m" if hours else f"valid for {rest // 60}m"


# --- login / logout / status -------------------------------------------------------------------


def read_password(user: str, stdin: TextIO) -> str:
    """The password: the first line of stdin when it is not a terminal, else a hidden prompt."""
    if stdin.isatty():
        password = getpass.getpass(f"Password for {user}: ")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError(
            "no password given (pipe it on stdin, or use --sso for a browser login)",
            ExitCode.USAGE,
        )
    return password


def _password_login(client: ApiClient, user: str, stdin: TextIO) -> dict[str, Any]:
    password = read_password(user, stdin)
    data: dict[str, Any] = client.call(
        "POST",
        "/auth/password",
        {"username": user, "password": password, "client_name": _client_name()},
        authenticated=False,
    )
    return data


def _can_open_browser() -> bool:
    if os.environ.get("ROLEGATE_NO_BROWSER"):
        return False
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    return sys.stdout.isatty()


def _device_login(
    client: ApiClient, *, open_browser: bool, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    started = client.call(
        "POST", "/auth/device", {"client_name": _client_name()}, authenticated=False
    )
    code = started["user_code"]
    url = started["verification_uri_complete"]
    _err(f"To sign in, open this URL in a browser and approve the code {code}:")
    _err(f"  {url}")
    if open_browser and _can_open_browser():
        import webbrowser

        webbrowser.open(url, new=2)
    interval = max(1, int(started.get("interval", 5)))
    deadline = time.monotonic() + min(
        int(started.get("expires_in", 600)), DEVICE_POLL_LIMIT_SECONDS
    )
    while time.monotonic() < deadline:
        sleep(interval)
        status, data = client.request(
            "POST",
            "/auth/device/token",
            {"device_code": started["device_code"]},
            authenticated=False,
        )
        if status == 200 and isinstance(data, dict):
            return data
        error_code = data.get("code") if isinstance(data, dict) else None
        if status == 400 and error_code == "authorization_pending":
            continue
        if status == 400 and error_code == "slow_down":
            interval += 5
            continue
        if status == 400 and error_code == "access_denied":
            raise CliError("the login was denied in the browser", ExitCode.DENIED)
        if status == 400 and error_code in ("expired_token", "invalid_grant"):
            raise CliError("the login code expired; run rolegate login again", ExitCode.DENIED)
        from rolegate.client import error_for

        raise error_for(status, data, client.proxy)
    raise CliError("the login was not approved in time; run rolegate login again", ExitCode.DENIED)


def login(
    *,
    proxy: str | None,
    user: str | None,
    sso: bool,
    ca_file: str,
    insecure: bool,
    open_browser: bool,
    stdin: TextIO,
) -> int:
    """Sign in (password or device flow), store the token, and print the status."""
    previous = state.load_login(required=False)
    if proxy is None:
        if previous is None:
            raise CliError("--proxy is required for the first login", ExitCode.USAGE)
        proxy = previous.proxy
    proxy_url = normalize_proxy(proxy)
    if ca_file and not os.path.isfile(ca_file):
        raise CliError(f"--ca-file {ca_file!r} does not exist", ExitCode.USAGE)
    ca_path = os.path.abspath(ca_file) if ca_file else ""
    client = ApiClient(proxy_url, ca_file=ca_path, insecure=insecure)
    if user and not sso:
        issued = _password_login(client, user, stdin)
    else:
        issued = _device_login(client, open_browser=open_browser)
    new_login = state.Login(
        proxy=proxy_url,
        user=str(issued["username"]),
        token=str(issued["token"]),
        expires_at=str(issued["expires_at"]),
        ca_file=ca_path,
        insecure=insecure,
    )
    state.save_login(new_login)
    if previous is not None and previous.token != new_login.token:
        _revoke_quietly(previous)
    return status(stdout=sys.stdout)


def _revoke_quietly(login: state.Login) -> None:
    """Revoke an old token; a failure only means it expires on its own."""
    with contextlib.suppress(CliError):
        _client(login).request("POST", "/auth/logout")


def status(*, stdout: TextIO) -> int:
    """Print proxy, user, roles, traits and expiry, like `tsh status`."""
    login = state.require_login()
    me = _client(login).call("GET", "/me")
    expires = state.parse_time(str(me["token_expires_at"]))
    traits = me.get("traits") or {}
    width = 16
    lines = [
        f"> Profile URL:   {login.proxy}",
        f"  {'Logged in as:':{width}}{me['username']}",
        f"  {'Roles:':{width}}{', '.join(me.get('roles') or []) or '(none)'}",
        f"  {'Traits:':{width}}"
        + (
            "\n".join(
                (" " * (width + 2) if index else "") + f"{key}: {', '.join(values)}"
                for index, (key, values) in enumerate(sorted(traits.items()))
            )
            or "(none)"
        ),
        f"  {'Valid until:':{width}}{expires:%Y-%m-%d %H:%M:%S} UTC [{_remaining(expires)}]",
    ]
    lines[3:3] = _grant_lines(me.get("grants"), width)
    print("\n".join(lines), file=stdout)
    return ExitCode.OK


def _grant_lines(grants: Any, width: int) -> list[str]:
    """`Grants:` lines for `status`: each granted role and when it ends (from the server)."""
    lines: list[str] = []
    for grant in grants if isinstance(grants, list) else []:
        if not isinstance(grant, dict):
            continue
        try:
            ends = state.parse_time(str(grant.get("ends_at")))
        except (CliError, ValueError):
            continue
        label = "Grants:" if not lines else ""
        lines.append(
            f"  {label:{width}}{str(grant.get('role', ''))[:64]} until "
            f"{ends:%Y-%m-%d %H:%M:%S} UTC [{_remaining(ends)}]"
        )
    return lines


def logout() -> int:
    """Revoke the token, remove the managed AWS profiles and the cache, forget the login."""
    login = state.load_login(required=False)
    if login is not None:
        try:
            _client(login).call("POST", "/auth/logout")
        except CliError as error:
            if error.code != ExitCode.NOT_LOGGED_IN:
                _err(f"rolegate: warning: could not revoke the token ({error.message})")
    removed: list[str] = []
    config_error: CliError | None = None
    try:
        config = AwsConfig()
        for profile in config.managed_profiles():
            config.remove(profile)
            removed.append(profile)
        config.save()
    except CliError as error:
        config_error = error
    cache.forget()
    had_login = state.delete_login()
    if login is not None or had_login:
        print(f"Logged out of {login.proxy if login else 'Rolegate'}.")
    else:
        print("Not logged in.")
    for profile in removed:
        print(f'Removed AWS profile "{profile}".')
    if config_error is not None:
        raise config_error
    return ExitCode.OK


# --- apps --------------------------------------------------------------------------------------


def _apps(login: state.Login) -> list[dict[str, Any]]:
    # GET /apps is paginated ({"items": [...], "next_cursor": ...}): follow the cursor.
    client = _client(login)
    items: list[Any] = []
    path = "/apps"
    for _ in range(10_000):
        data = client.call("GET", path)
        if isinstance(data, list):  # a server from before pagination
            items.extend(data)
            break
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise CliError("the Rolegate proxy sent an unexpected app list", ExitCode.SERVER)
        items.extend(data["items"])
        cursor = data.get("next_cursor")
        if not cursor or not isinstance(cursor, str):
            break
        path = "/apps?" + urllib.parse.urlencode({"cursor": cursor})
    return [item for item in items if isinstance(item, dict)]


def apps_ls(*, output_format: str) -> int:
    """List accessible apps as a table or as JSON."""
    login = state.require_login()
    apps = _apps(login)
    if output_format == "json":
        print(json.dumps(apps, indent=2, sort_keys=True))
        return ExitCode.OK
    if not apps:
        print("No AWS apps are available to you (ask an operator for a role, or check the sync).")
        return ExitCode.OK
    rows = [("Application", "Account", "Integration", "AWS roles")]
    for app in apps:
        roles = app.get("aws_role_arns") or []
        name = str(app.get("name", ""))
        with contextlib.suppress(ValueError):
            if app.get("grant_ends_at"):
                ends = state.parse_time(str(app["grant_ends_at"]))
                name += f" (granted until {ends:%Y-%m-%d %H:%M} UTC)"
        rows.append(
            (
                name,
                str(app.get("account_id", "")),
                str(app.get("integration", "")),
                str(roles[0]) if roles else "",
            )
        )
        rows += [("", "", "", str(arn)) for arn in roles[1:]]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
        if index == 0:
            print("  ".join("-" * w for w in widths) + "  " + "-" * 9)
    return ExitCode.OK


def resolve_role(app: dict[str, Any], wanted: str) -> str:
    """An allowed role ARN from an ARN or a role name (unique match required)."""
    allowed = [str(arn) for arn in app.get("aws_role_arns") or []]
    name = app.get("name", "")
    if wanted.startswith("arn:"):
        if wanted in allowed:
            return wanted
        raise CliError(
            f"you are not allowed to assume {wanted} on {name} "
            f"(allowed: {', '.join(allowed) or 'none'})",
            ExitCode.DENIED,
        )
    matches = [
        arn
        for arn in allowed
        if arn.rsplit("/", 1)[-1] == wanted or arn.split(":role/", 1)[-1] == wanted
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(
            f"no role named {wanted!r} is allowed on {name} "
            f"(allowed: {', '.join(allowed) or 'none'})",
            ExitCode.NOT_FOUND,
        )
    raise CliError(
        f"role name {wanted!r} matches several roles on {name}: {', '.join(matches)}; "
        "pass the full ARN",
        ExitCode.USAGE,
    )


def rolegate_command() -> list[str]:
    """How the AWS CLI should run this rolegate: an absolute path, never relying on PATH."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if os.path.basename(argv0) in ("rolegate", "rolegate.exe") and os.path.exists(argv0):
        return [os.path.abspath(argv0)]
    import shutil

    found = shutil.which("rolegate")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "rolegate"]


def apps_login(*, app_name: str, aws_role: str) -> int:
    """Resolve the role, fetch credentials once (priming the cache), write the AWS profile."""
    from rolegate.credentials import credentials_document

    check_app_name(app_name)
    login = state.require_login()
    # Refuse a malformed file or a foreign section before asking for anything.
    AwsConfig().check_can_write(app_name)
    apps = {str(app.get("name")): app for app in _apps(login)}
    app = apps.get(app_name)
    if app is None:
        raise CliError(
            f"app {app_name!r} was not found, or you are not allowed to use it "
            "(see rolegate apps ls)",
            ExitCode.NOT_FOUND,
        )
    role_arn = resolve_role(app, aws_role)
    credentials_document(app_name, role_arn)
    command = [*rolegate_command(), "aws", "credentials", "--app", app_name, "--aws-role", role_arn]
    from filelock import FileLock

    state.ensure_dir(state.home())
    with FileLock(str(state.home() / "awsconfig.lock"), timeout=30):
        config = AwsConfig()  # re-read under the lock: another login may have written it
        region = app.get("region")
        config.upsert(app_name, command, region=region if isinstance(region, str) else None)
        config.save()
    print(
        f'Logged into AWS app "{app_name}".\n'
        "\n"
        "Your IAM role:\n"
        f"  {role_arn}\n"
        "\n"
        "Example AWS CLI commands:\n"
        f"  aws --profile {app_name} s3 ls\n"
        f"  AWS_PROFILE={app_name} aws s3 ls\n"
        "\n"
        "Terraform:\n"
        '  provider "aws" {\n'
        f'    profile = "{app_name}"\n'
        "  }\n"
        "\n"
        f"The profile is in {config.path}; rolegate refreshes its credentials as they expire."
    )
    return ExitCode.OK


def apps_logout(*, app_name: str | None) -> int:
    """Remove one managed AWS profile (or all of them) and their cached credentials."""
    from filelock import FileLock

    state.ensure_dir(state.home())
    with FileLock(str(state.home() / "awsconfig.lock"), timeout=30):
        config = AwsConfig()
        if app_name is None:
            removed = config.managed_profiles()
            for profile in removed:
                config.remove(profile)
        else:
            check_app_name(app_name)
            if not config.remove(app_name):
                raise CliError(
                    f"no AWS profile {app_name!r} in {config.path} to remove", ExitCode.NOT_FOUND
                )
            removed = [app_name]
        config.save()
    for profile in removed:
        cache.forget(profile)
        print(f'Logged out of AWS app "{profile}".')
    if not removed:
        print("No AWS apps to log out of.")
    return ExitCode.OK
