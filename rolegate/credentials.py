"""`rolegate aws credentials` / `aws env`: credential_process output, cached and shared.

Runs for every AWS CLI call, often from a background tool: it never prompts and never opens a
browser; without a usable login it exits at once with one line on stderr. On a cache hit it
imports only the standard library (see bench/bench_cli.py for the start-up budget).
"""

from __future__ import annotations

import json
from pathlib import Path

from rolegate import cache, state
from rolegate.errors import CliError, ExitCode

LOCK_TIMEOUT_SECONDS = 120.0

Document = dict[str, str | int]


def credentials_document(app: str, role_arn: str) -> Document:
    """The credential_process document for (app, role): from the cache, or fetched once."""
    login = state.require_login()
    key = cache.entry_key(login.proxy, login.user, app, role_arn)
    path = cache.entry_path(key)
    document = cache.fresh_document(path, key)
    if document is not None:
        return document
    return _fetch_locked(login, path, key)


def _fetch_locked(login: state.Login, path: Path, key: list[str]) -> Document:
    from filelock import FileLock, Timeout

    state.ensure_dir(path.parent)
    lock = FileLock(str(path.with_suffix(".lock")), timeout=LOCK_TIMEOUT_SECONDS)
    try:
        with lock:
            # Another process may have fetched while we waited for the lock.
            document = cache.fresh_document(path, key)
            if document is not None:
                return document
            document = fetch(login, app=key[2], role_arn=key[3])
            cache.store(path, key, document)
            return document
    except Timeout:
        raise CliError(
            f"another rolegate process has held {lock.lock_file} for "
            f"{LOCK_TIMEOUT_SECONDS:.0f}s; try again",
            ExitCode.ERROR,
        ) from None


def fetch(login: state.Login, *, app: str, role_arn: str) -> Document:
    """Ask the proxy for new credentials; check they form a valid credential_process document."""
    from awsra.credential_process import format_output, parse_output
    from rolegate.client import ApiClient, api_path

    client = ApiClient(
        login.proxy, token=login.token, ca_file=login.ca_file, insecure=login.insecure
    )
    data = client.call("POST", api_path("apps", app, "credentials"), {"role_arn": role_arn})
    try:
        credentials = parse_output(json.dumps(data))
    except ValueError as error:
        raise CliError(
            f"the Rolegate proxy sent unusable credentials: {error}", ExitCode.SERVER
        ) from None
    document: Document = json.loads(format_output(credentials))
    return document


def print_credential_process(app: str, role_arn: str) -> None:
    """Print the credential_process JSON (stdout only; secrets never go to stderr)."""
    print(json.dumps(credentials_document(app, role_arn)))


def print_env(app: str, role_arn: str) -> None:
    """Print `export` lines for tools that read credentials from the environment."""
    import shlex

    document = credentials_document(app, role_arn)
    for name, field in (
        ("AWS_ACCESS_KEY_ID", "AccessKeyId"),
        ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
        ("AWS_SESSION_TOKEN", "SessionToken"),
        ("AWS_CREDENTIAL_EXPIRATION", "Expiration"),
    ):
        print(f"export {name}={shlex.quote(str(document[field]))}")
