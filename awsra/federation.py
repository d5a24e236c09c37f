"""AWS console federation: exchange temporary credentials for a sign-in token, build the
`Action=login` URL (IAM guide "Enable custom identity broker access to the AWS console")."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlencode, urlsplit

import urllib3

from awsra.credentials import Credentials
from awsra.errors import AwsError, ValidationError, error_from_response
from awsra.http import call_with_retries, http_request
from awsra.partitions import federation_endpoint, get_partition

__all__ = [
    "SESSION_DURATION_MAX",
    "SESSION_DURATION_MIN",
    "get_signin_token",
    "login_url",
    "signin_token_url",
]

log = logging.getLogger(__name__)

_SECRET_QUERY_VALUE = re.compile(r"((?:^|[?&])(?:Session|SigninToken)=)[^&\s\"]*")


class RedactFederationSecrets(logging.Filter):
    """Blank the `Session` (AWS credentials) and `SigninToken` values in log records.

    getSigninToken carries the credentials in its URL, and urllib3 logs every request URL at
    DEBUG: without this filter, DEBUG logging would write AWS secret keys to the logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's arguments (and message) in place; never drop the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_QUERY_VALUE.sub(r"\1REDACTED", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _SECRET_QUERY_VALUE.sub(r"\1REDACTED", record.msg)
        return True


def _install_redaction() -> None:
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(existing, RedactFederationSecrets) for existing in target.filters):
        target.addFilter(RedactFederationSecrets())


_install_redaction()

SESSION_DURATION_MIN = 900
SESSION_DURATION_MAX = 43200


def _endpoint(partition: str, signin_url: str | None, environ: Mapping[str, str] | None) -> str:
    if signin_url is None:
        return federation_endpoint(partition, environ)
    get_partition(partition)
    parts = urlsplit(signin_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(f"signin_url must be an http(s) URL without a query, got {signin_url!r}")
    return signin_url


def signin_token_url(
    credentials: Credentials,
    *,
    partition: str = "aws",
    session_duration: int | None = None,
    signin_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return the `Action=getSigninToken` URL for `credentials` (it holds secrets: never log)."""
    session = json.dumps(
        {
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
        },
        separators=(",", ":"),
    )
    query: list[tuple[str, str]] = [("Action", "getSigninToken")]
    if session_duration is not None:
        if isinstance(session_duration, bool) or not isinstance(session_duration, int):
            raise ValueError("session_duration must be an integer number of seconds")
        if not SESSION_DURATION_MIN <= session_duration <= SESSION_DURATION_MAX:
            raise ValueError(
                f"session_duration must be between {SESSION_DURATION_MIN} and "
                f"{SESSION_DURATION_MAX}, got {session_duration}"
            )
        query.append(("SessionDuration", str(session_duration)))
    query.append(("Session", session))
    return f"{_endpoint(partition, signin_url, environ)}?{urlencode(query)}"


def _fetch_token(url: str, timeout: float, http: urllib3.PoolManager | None) -> str:
    response = http_request("GET", url, timeout=timeout, http=http)
    if not 200 <= response.status < 300:
        raise error_from_response(response.status, response.headers, response.body)
    try:
        token = json.loads(response.body)["SigninToken"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise AwsError(
            "InvalidResponse", "federation endpoint did not return a SigninToken"
        ) from None
    if not isinstance(token, str) or not token:
        raise AwsError("InvalidResponse", "federation endpoint returned an empty SigninToken")
    return token


def get_signin_token(
    credentials: Credentials,
    *,
    partition: str = "aws",
    session_duration: int | None = None,
    signin_url: str | None = None,
    timeout: float = 10.0,
    max_attempts: int = 3,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    http: urllib3.PoolManager | None = None,
) -> str:
    """Exchange temporary credentials for a console sign-in token.

    With `session_duration`, a 400 answer is retried once without it: the endpoint refuses
    SessionDuration for some temporary credentials, and the console then lasts as long as
    the credentials do.
    """

    def fetch(duration: int | None) -> str:
        url = signin_token_url(
            credentials,
            partition=partition,
            session_duration=duration,
            signin_url=signin_url,
            environ=environ,
        )
        return call_with_retries(
            lambda: _fetch_token(url, timeout, http),
            max_attempts=max_attempts,
            sleep=sleep,
            what="getSigninToken",
        )

    if session_duration is None:
        return fetch(None)
    try:
        return fetch(session_duration)
    except ValidationError as exc:
        if exc.status != 400:
            raise
        log.info("getSigninToken refused SessionDuration (%s); retrying without it", exc.code)
        return fetch(None)


def _check_url(value: str, what: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL, got {value!r}")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value) or "\\" in value:
        raise ValueError(f"{what} must not contain whitespace, control characters or '\\'")


def login_url(
    *,
    signin_token: str,
    destination: str,
    issuer: str,
    partition: str = "aws",
    signin_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return the `Action=login` URL that signs the browser in to the console at `destination`."""
    if not isinstance(signin_token, str) or not signin_token:
        raise ValueError("signin_token must be a non-empty string")
    _check_url(destination, "destination")
    _check_url(issuer, "issuer")
    query = urlencode(
        [
            ("Action", "login"),
            ("Issuer", issuer),
            ("Destination", destination),
            ("SigninToken", signin_token),
        ]
    )
    return f"{_endpoint(partition, signin_url, environ)}?{query}"
