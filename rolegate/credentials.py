"""`rolegate aws credentials` / `aws env`: credential_process output, cached and shared.

Runs for every AWS CLI call, often from a background tool: it never prompts and never opens a
browser; without a usable login it exits at once with one line on stderr. On a cache hit it
imports only the standard library (see bench/bench_cli.py for the start-up budget); a miss
imports the standard-library HTTP client and awsra's small validators, nothing else.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

from rolegate import cache, state
from rolegate.errors import CliError, ExitCode

Document = dict[str, str | int]
_KEY_ID_RE = re.compile(r"[A-Za-z0-9]{4,128}", re.ASCII)


class Obtained:
    """Credentials for one (portal, user, app, role), with the app's region when known."""

    __slots__ = ("app", "document", "login", "region", "role_arn")

    def __init__(
        self, login: state.Login, app: str, role_arn: str, region: str | None, document: Document
    ) -> None:
        self.login = login
        self.app = app
        self.role_arn = role_arn
        self.region = region
        self.document = document


def resolve(
    login: state.Login,
    app: str,
    role: str | None,
    *,
    interactive: bool = False,
    need_region: bool = False,
) -> tuple[str, str | None]:
    """(role ARN, region) from a role ARN, a role name or nothing (single-role apps).

    A full ARN needs no listing (the server decides whether it is allowed); names and omitted
    roles are resolved against the app's entry in the listing, cached for a few minutes.
    """
    if role and role.startswith("arn:") and not need_region:
        return role, None
    from rolegate import catalog

    info = catalog.find_app(login, app)
    region = info.get("region") or None
    if role and role.startswith("arn:"):
        return role, region
    return catalog.resolve_role(info, role, interactive=interactive), region


def obtain(
    app: str,
    role: str | None,
    *,
    proxy: str | None = None,
    interactive: bool = False,
    need_region: bool = False,
    margin: timedelta = cache.REFRESH_MARGIN,
    force: bool = False,
) -> Obtained:
    """Credentials for (app, role) on the portal `proxy` (default portal when None)."""
    login = state.require_login(proxy)
    role_arn, region = resolve(login, app, role, interactive=interactive, need_region=need_region)
    key = cache.entry_key(login.proxy, login.user, app, role_arn)
    path = cache.entry_path(key)
    document = None if force else cache.fresh_document(path, key, margin=margin)
    if document is None:
        document = _fetch_locked(login, path, key, margin=margin, force=force)
    return Obtained(login, app, role_arn, region, document)


def credentials_document(app: str, role: str | None, *, proxy: str | None = None) -> Document:
    """The credential_process document for (app, role): from the cache, or fetched once."""
    return obtain(app, role, proxy=proxy).document


def _fetch_locked(
    login: state.Login, path: Path, key: list[str], *, margin: timedelta, force: bool
) -> Document:
    from rolegate.client import CONNECT_TIMEOUT, read_timeout

    started = time.time()
    state.ensure_dir(path.parent)
    # A waiter never waits longer than one holder's whole request could take.
    timeout = read_timeout() + CONNECT_TIMEOUT + 2.0
    try:
        with cache.Lock(path.with_suffix(".lock"), timeout):
            # Another process may have fetched while we waited for the lock.
            document = cache.fresh_document(path, key, margin=margin)
            if document is not None and not (force and _stored_before(path, started)):
                return document
            failure = cache.recent_failure(path, started)
            if failure is not None:
                raise failure
            try:
                document = fetch(login, app=key[2], role_arn=key[3])
            except CliError as error:
                cache.record_failure(path, error)
                raise
            cache.store(path, key, document)
            cache.clear_failure(path)
            return document
    except TimeoutError:
        raise CliError(
            f"another rolegate process has waited {timeout:.0f}s for the Rolegate proxy "
            f"{login.proxy} to issue these credentials; try again",
            ExitCode.UNREACHABLE,
        ) from None


def _stored_before(path: Path, moment: float) -> bool:
    try:
        return path.stat().st_mtime < moment
    except OSError:
        return True


def fetch(login: state.Login, *, app: str, role_arn: str) -> Document:
    """Ask the proxy for new credentials; check they form a valid credential_process document."""
    from awsra.credential_process import format_output, parse_output
    from rolegate.client import ApiClient, api_path
    from rolegate.validate import invalid

    client = ApiClient(
        login.proxy, token=login.token, ca_file=login.ca_file, insecure=login.insecure
    )
    try:
        data = client.call("POST", api_path("apps", app, "credentials"), {"role_arn": role_arn})
    finally:
        client.close()
    try:
        credentials = parse_output(json.dumps(data))
    except ValueError as error:
        raise invalid(f"unusable credentials ({error})") from None
    if not _KEY_ID_RE.fullmatch(credentials.access_key_id):
        raise invalid("the access key id is not of the AWS form")
    document: Document = json.loads(format_output(credentials))
    return document


def print_credential_process(app: str, role: str | None, *, proxy: str | None = None) -> None:
    """Print the credential_process JSON (stdout only; secrets never go to stderr)."""
    print(json.dumps(credentials_document(app, role, proxy=proxy)))


def environment(obtained: Obtained, region: str | None = None) -> dict[str, str]:
    """The AWS_* variables that hand these credentials to a tool."""
    document = obtained.document
    variables = {
        "AWS_ACCESS_KEY_ID": str(document["AccessKeyId"]),
        "AWS_SECRET_ACCESS_KEY": str(document["SecretAccessKey"]),
        "AWS_SESSION_TOKEN": str(document["SessionToken"]),
        "AWS_CREDENTIAL_EXPIRATION": str(document["Expiration"]),
    }
    chosen = region or obtained.region
    if chosen:
        variables["AWS_REGION"] = chosen
        variables["AWS_DEFAULT_REGION"] = chosen
    return variables


def print_env(
    app: str, role: str | None, *, proxy: str | None = None, region: str | None = None
) -> None:
    """Print `export` lines for tools that read credentials from the environment."""
    import shlex

    obtained = obtain(app, role, proxy=proxy)
    for name, value in environment(obtained, region).items():
        print(f"export {name}={shlex.quote(value)}")
