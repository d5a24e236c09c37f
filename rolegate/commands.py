"""The interactive commands: login, logout, status, apps ls/login/logout."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from rolegate import cache, state
from rolegate.awsconfig import AwsConfig, check_app_name
from rolegate.client import ApiClient, normalize_proxy
from rolegate.errors import CliError, ExitCode
from rolegate.validate import escape, is_region

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
    insecure_http: bool = False,
) -> int:
    """Sign in (password or device flow) to one portal, store its token, print the status.

    Logins are kept per portal: signing in to one never touches another's token or profiles.
    """
    if proxy is None:
        proxy = state.default_proxy() or None
        if proxy is None:
            raise CliError(
                "--proxy is required for the first login (or set ROLEGATE_PROXY)", ExitCode.USAGE
            )
    proxy_url = normalize_proxy(proxy, insecure_http=insecure_http)
    previous = state.load_login(required=False, proxy=proxy_url)
    if ca_file and not os.path.isfile(ca_file):
        raise CliError(f"--ca-file {ca_file!r} does not exist", ExitCode.USAGE)
    ca_path = os.path.abspath(ca_file) if ca_file else ""
    client = ApiClient(proxy_url, ca_file=ca_path, insecure=insecure)
    if user and not sso:
        issued = _password_login(client, user, stdin)
    else:
        issued = _device_login(client, open_browser=open_browser)
    username = issued.get("username") if isinstance(issued, dict) else None
    token = issued.get("token") if isinstance(issued, dict) else None
    if not isinstance(username, str) or not isinstance(token, str) or not token.isprintable():
        from rolegate.validate import invalid

        raise invalid("the login answer has no usable username or token")
    try:
        state.parse_time(str(issued.get("expires_at")))
    except ValueError:
        from rolegate.validate import invalid

        raise invalid("the login answer's expires_at is not a time") from None
    new_login = state.Login(
        proxy=proxy_url,
        user=username,
        token=token,
        expires_at=str(issued["expires_at"]),
        ca_file=ca_path,
        insecure=insecure,
    )
    state.save_login(new_login)
    if previous is not None and previous.token != new_login.token:
        _revoke_quietly(previous)
    return status(stdout=sys.stdout, proxy=proxy_url)


def _revoke_quietly(login: state.Login) -> None:
    """Revoke an old token; a failure only means it expires on its own."""
    with contextlib.suppress(CliError):
        _client(login).request("POST", "/auth/logout")


def _status_of(login: state.Login, default: str) -> dict[str, Any]:
    """What `status` shows for one login: the server's view, or why it is unusable."""
    entry: dict[str, Any] = {
        "proxy": login.proxy,
        "user": login.user,
        "default": login.proxy == default,
        "expires_at": login.expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if login.expired():
        entry.update(state="expired")
        return entry
    try:
        me = _client(login).call("GET", "/me")
        if not isinstance(me, dict):
            from rolegate.validate import invalid

            raise invalid("the /me answer is not an object")
        expires = state.parse_time(str(me["token_expires_at"]))
    except CliError as error:
        entry.update(state="error", error=error.message, exit_code=int(error.code))
        return entry
    except (KeyError, ValueError):
        entry.update(state="error", error="the /me answer is malformed", exit_code=9)
        return entry
    raw_traits = me.get("traits")
    traits: dict[str, Any] = raw_traits if isinstance(raw_traits, dict) else {}
    entry.update(
        state="valid",
        user=str(me.get("username", login.user)),
        roles=[str(role) for role in me.get("roles") or []],
        traits={str(k): [str(v) for v in values] for k, values in sorted(traits.items())},
        grants=[g for g in me.get("grants") or [] if isinstance(g, dict)],
        expires_at=expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return entry


def status(*, stdout: TextIO, proxy: str | None = None, output_format: str = "text") -> int:
    """Print every login (or one portal's): proxy, user, roles, traits, expiry, like `tsh status`.

    Exit 0 when the shown default login is usable; otherwise the code of what is wrong with it.
    """
    if proxy is not None:
        logins = [state.require_login(proxy)]
    else:
        logins = state.all_logins()
        if not logins:
            state.require_login()  # raises the usual "not logged in" (or unreadable login)
    current = state.load_login(required=False)
    default = current.proxy if current is not None else ""
    entries = [_status_of(login, default) for login in logins]
    if len(entries) == 1 and entries[0]["state"] == "error":
        raise CliError(entries[0]["error"], ExitCode(entries[0]["exit_code"]))
    if output_format == "json":
        print(json.dumps(entries, indent=2, sort_keys=True), file=stdout)
    else:
        print("\n\n".join(_status_text(entry) for entry in entries), file=stdout)
    main = next((e for e in entries if e["default"]), entries[0]) if proxy is None else entries[0]
    if len(entries) == 1 or proxy is not None:
        if main["state"] == "expired":
            from rolegate.errors import not_logged_in

            raise not_logged_in(f"the login to {main['proxy']} has expired")
        if main["state"] == "error":
            return int(main["exit_code"])
    return ExitCode.OK


def _status_text(entry: dict[str, Any]) -> str:
    width = 16
    marker = ">" if entry["default"] else " "
    lines = [f"{marker} Profile URL:   {escape(entry['proxy'])}"]
    lines.append(f"  {'Logged in as:':{width}}{escape(entry['user'])}")
    if entry["state"] != "valid":
        why = "expired" if entry["state"] == "expired" else escape(entry.get("error", ""))
        lines.append(f"  {'Status:':{width}}{why}")
        return "\n".join(lines)
    expires = state.parse_time(entry["expires_at"])
    traits = entry["traits"]
    lines += [
        f"  {'Roles:':{width}}{escape(', '.join(entry['roles'])) or '(none)'}",
        f"  {'Traits:':{width}}"
        + (
            "\n".join(
                (" " * (width + 2) if index else "") + escape(f"{key}: {', '.join(values)}")
                for index, (key, values) in enumerate(sorted(traits.items()))
            )
            or "(none)"
        ),
        f"  {'Valid until:':{width}}{expires:%Y-%m-%d %H:%M:%S} UTC [{_remaining(expires)}]",
    ]
    lines[3:3] = _grant_lines(entry["grants"], width)
    return "\n".join(lines)


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
            f"  {label:{width}}{escape(str(grant.get('role', '')))[:64]} until "
            f"{ends:%Y-%m-%d %H:%M:%S} UTC [{_remaining(ends)}]"
        )
    return lines


def logout(*, proxy: str | None = None, everything: bool = False) -> int:
    """Revoke the token of one portal (default: the default portal, or all with `everything`),
    remove that portal's managed AWS profiles and cache, forget the login."""
    if everything:
        logins = state.all_logins()
    else:
        one = state.load_login(required=False, proxy=proxy)
        logins = [one] if one is not None else []
    if not logins:
        if proxy is None and not everything:
            # An unreadable login file: remove it so the next login starts clean.
            with contextlib.suppress(CliError):
                state.load_login(required=True)
            if (state.home() / state.LOGIN_FILE).exists():
                state.delete_login(state.default_proxy() or "")
                (state.home() / state.LOGIN_FILE).unlink(missing_ok=True)
        print("Not logged in.")
        return ExitCode.OK
    config_error: CliError | None = None
    for login in logins:
        try:
            _client(login).call("POST", "/auth/logout")
        except CliError as error:
            if error.code != ExitCode.NOT_LOGGED_IN:
                _err(f"rolegate: warning: could not revoke the token ({error.message})")
        removed: list[str] = []
        try:
            with _config_lock():
                config = AwsConfig()
                default = _is_default(login)
                for profile in config.managed_profiles():
                    portal = profile_portal(config, profile)
                    if portal == login.proxy or (portal is None and default):
                        config.remove(profile)
                        removed.append(profile)
                config.save()
        except CliError as error:
            config_error = error
        cache.forget(proxy=login.proxy)
        state.delete_login(login.proxy)
        print(f"Logged out of {login.proxy}.")
        for profile in removed:
            print(f'Removed AWS profile "{profile}".')
    if config_error is not None:
        raise config_error
    return ExitCode.OK


def _is_default(login: state.Login) -> bool:
    return login.proxy == state.default_proxy() or len(state.all_logins()) <= 1


@contextlib.contextmanager
def _config_lock() -> Any:
    from rolegate.client import read_timeout

    state.ensure_dir(state.home())
    try:
        with cache.Lock(state.home() / "awsconfig.lock", timeout=read_timeout()):
            yield
    except TimeoutError:
        raise CliError(
            "another rolegate process is editing the AWS config; try again", ExitCode.ERROR
        ) from None


def profile_portal(config: AwsConfig, profile: str) -> str | None:
    """The portal a managed profile's credential_process names (None: written before portals
    were named, i.e. the default portal's)."""
    import shlex

    for line in config.section_lines(profile):
        if line.strip().startswith("credential_process"):
            try:
                argv = shlex.split(line.split("=", 1)[1])
            except ValueError:
                return None
            if "--proxy" in argv[:-1]:
                return state.canonical_proxy(argv[argv.index("--proxy") + 1])
    return None


# --- apps ------------------------------------------------------------------------------------


def _apps(login: state.Login) -> list[dict[str, Any]]:
    from rolegate.catalog import list_apps

    client = _client(login)
    try:
        return list_apps(client)
    finally:
        client.close()


def apps_ls(*, output_format: str, proxy: str | None = None) -> int:
    """List accessible apps as a table or as JSON."""
    login = state.require_login(proxy)
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
        name = escape(app.get("name", ""))
        with contextlib.suppress(ValueError):
            if app.get("grant_ends_at"):
                ends = state.parse_time(str(app["grant_ends_at"]))
                name += f" (granted until {ends:%Y-%m-%d %H:%M} UTC)"
        rows.append(
            (
                name,
                escape(app.get("account_id", "")),
                escape(app.get("integration", "")),
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


def resolve_role(app: dict[str, Any], wanted: str | None) -> str:
    """An allowed role ARN from an ARN, a role name, or nothing (see rolegate.catalog)."""
    from rolegate.catalog import resolve_role as resolve

    return resolve(app, wanted, interactive=True)


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


def apps_login(
    *, app_name: str, aws_role: str | None, proxy: str | None = None, profile: str | None = None
) -> int:
    """Resolve the role, fetch fresh credentials (refreshing the cache), write the AWS profile.

    The profile's credential_process names its portal, so profiles of several portals work
    side by side whichever is the default.
    """
    from rolegate import catalog
    from rolegate.credentials import obtain

    check_app_name(app_name)
    profile_name = profile or app_name
    check_app_name(profile_name)
    login = state.require_login(proxy)
    # Refuse a malformed file or a foreign section before asking for anything.
    AwsConfig().check_can_write(profile_name)
    app = catalog.find_app(login, app_name, use_cache=False)
    role_arn = resolve_role(app, aws_role)
    obtain(app_name, role_arn, proxy=login.proxy, force=True)
    command = [
        *rolegate_command(),
        "aws",
        "credentials",
        "--proxy",
        login.proxy,
        "--app",
        app_name,
        "--aws-role",
        role_arn,
    ]
    region = app.get("region")
    with _config_lock():
        config = AwsConfig()  # re-read under the lock: another login may have written it
        config.upsert(profile_name, command, region=region if is_region(region) else None)
        config.save()
    print(
        f'Logged into AWS app "{app_name}".\n'
        "\n"
        f"Portal: {login.proxy}\n"
        "\n"
        "Your IAM role:\n"
        f"  {role_arn}\n"
        "\n"
        "Example AWS CLI commands:\n"
        f"  aws --profile {profile_name} s3 ls\n"
        f"  AWS_PROFILE={profile_name} aws s3 ls\n"
        "\n"
        "Terraform:\n"
        '  provider "aws" {\n'
        f'    profile = "{profile_name}"\n'
        "  }\n"
        "\n"
        f"The profile is in {config.path}; rolegate refreshes its credentials as they expire."
    )
    return ExitCode.OK


def apps_logout(*, app_name: str | None) -> int:
    """Remove one managed AWS profile (or all of them) and their cached credentials."""
    with _config_lock():
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


# --- console -----------------------------------------------------------------------------------


def console(
    *,
    app_name: str,
    aws_role: str | None,
    proxy: str | None,
    region: str | None,
    destination: str | None,
    print_url: bool,
) -> int:
    """Open the AWS console as the app's role, through the server's launch path."""
    from urllib.parse import urlsplit

    from rolegate import catalog
    from rolegate.client import api_path
    from rolegate.validate import invalid

    if region is not None and not is_region(region):
        raise CliError(f"--region {escape(region)!r} is not an AWS region", ExitCode.USAGE)
    login = state.require_login(proxy)
    if aws_role and aws_role.startswith("arn:"):
        role_arn = aws_role
    else:
        role_arn = resolve_role(catalog.find_app(login, app_name), aws_role)
    body: dict[str, Any] = {"role_arn": role_arn}
    if region:
        body["region"] = region
    if destination:
        body["destination"] = destination
    client = _client(login)
    try:
        answer = client.call("POST", api_path("apps", app_name, "console"), body)
    finally:
        client.close()
    url = answer.get("url") if isinstance(answer, dict) else None
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise invalid("the console answer has no sign-in URL")
    if parts.scheme == "http":
        from rolegate.client import is_loopback

        if not is_loopback(parts.hostname):
            raise invalid("the console sign-in URL is not https")
    assert isinstance(url, str)
    if not print_url and _can_open_browser():
        import webbrowser

        if webbrowser.open(url, new=2):
            _err(f"Opened the AWS console for {app_name} as {role_arn}.")
            return ExitCode.OK
    print(url)
    return ExitCode.OK
