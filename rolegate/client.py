"""The Rolegate API client: JSON over HTTPS with urllib3, every failure mapped to a CliError."""

from __future__ import annotations

import json
import platform
import ssl
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    SSLError,
    TimeoutError,
)

from rolegate.errors import CliError, ExitCode, not_logged_in

API_PREFIX = "/api/v1"
TIMEOUT = urllib3.Timeout(connect=5.0, read=60.0)


def normalize_proxy(value: str) -> str:
    """`host[:port]` or a URL → `scheme://host[:port][/path]` without a trailing slash."""
    text = value.strip()
    if not text:
        raise CliError("--proxy must not be empty", ExitCode.USAGE)
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--proxy {value!r} is not an http(s) URL", ExitCode.USAGE)
    if parts.query or parts.fragment or parts.username:
        raise CliError(f"--proxy {value!r} must not carry a query or credentials", ExitCode.USAGE)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise CliError(f"--proxy {value!r} has an invalid port", ExitCode.USAGE) from None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def user_agent() -> str:
    """`rolegate/<version> (<system>)`, recorded in the audit log."""
    from rolegate import version

    return f"rolegate/{version()} ({platform.system()}; Python {platform.python_version()})"


class ApiClient:
    """Calls one Rolegate proxy, optionally with a bearer token."""

    def __init__(
        self, proxy: str, *, token: str = "", ca_file: str = "", insecure: bool = False
    ) -> None:
        self.proxy = proxy
        self.token = token
        kwargs: dict[str, Any] = {"timeout": TIMEOUT, "retries": False}
        if proxy.startswith("https://"):
            if insecure:
                kwargs["cert_reqs"] = ssl.CERT_NONE
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            else:
                kwargs["cert_reqs"] = ssl.CERT_REQUIRED
                if ca_file:
                    kwargs["ca_certs"] = ca_file
        self._pool = urllib3.PoolManager(**kwargs)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        authenticated: bool = True,
    ) -> tuple[int, Any]:
        """Send one request; return (status, parsed JSON) or raise CliError for transport errors.

        HTTP error statuses are returned, not raised, so callers can react to the API's codes;
        `raise_for` turns them into CliErrors.
        """
        headers = {"Accept": "application/json", "User-Agent": user_agent()}
        if authenticated:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        url = self.proxy + API_PREFIX + path
        try:
            response = self._pool.request(method, url, body=payload, headers=headers)
        except MaxRetryError as error:
            raise self._transport_error(error.reason) from None
        except (HTTPError, OSError) as error:
            raise self._transport_error(error) from None
        text = response.data.decode("utf-8", errors="replace")
        if response.status == 204 or not text:
            return response.status, None
        try:
            return response.status, json.loads(text)
        except ValueError:
            raise CliError(
                f"{self.proxy} answered HTTP {response.status} with something that is not the "
                "Rolegate API (check --proxy)",
                ExitCode.SERVER,
            ) from None

    def _transport_error(self, reason: BaseException | None) -> CliError:
        host = urlsplit(self.proxy).netloc
        if isinstance(reason, (SSLError, ssl.SSLError)):
            detail = str(reason).split(":", 1)[-1].strip() or "handshake failed"
            return CliError(
                f"TLS failure talking to {host}: {detail} (use --ca-file for a private CA)",
                ExitCode.TLS,
            )
        # NewConnectionError subclasses ConnectTimeoutError in urllib3 2, so test it first.
        if isinstance(reason, NewConnectionError | ProtocolError | ConnectionError):
            return CliError(f"cannot reach the Rolegate proxy {host}", ExitCode.UNREACHABLE)
        if isinstance(reason, TimeoutError):
            return CliError(
                f"the Rolegate proxy {host} did not answer in time", ExitCode.UNREACHABLE
            )
        return CliError(f"cannot reach the Rolegate proxy {host}: {reason}", ExitCode.UNREACHABLE)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        authenticated: bool = True,
    ) -> Any:
        """`request`, then raise CliError for any status but 2xx."""
        status, data = self.request(method, path, body, authenticated=authenticated)
        if 200 <= status < 300:
            return data
        raise error_for(status, data, self.proxy)


def api_path(*parts: str) -> str:
    """Join path segments, percent-encoding each (app names are user input)."""
    return "".join("/" + quote(part, safe="") for part in parts)


def error_for(status: int, data: Any, proxy: str) -> CliError:
    """Map an API error response to the CLI's exit codes, keeping the server's message."""
    detail = ""
    code = ""
    if isinstance(data, dict):
        detail = str(data.get("detail") or "")
        code = str(data.get("code") or "")
    if status == 401:
        if code == "bad_credentials":
            return CliError(detail or "wrong username or password", ExitCode.DENIED)
        return not_logged_in(f"the login to {proxy} has expired or was revoked")
    if status in (403, 429):
        return CliError(detail or "access denied", ExitCode.DENIED)
    if status == 404:
        if code:
            return CliError(detail or "not found", ExitCode.NOT_FOUND)
        return CliError(f"{proxy} has no Rolegate API (check --proxy)", ExitCode.SERVER)
    if status == 422 and code == "issuance_refused":
        return CliError(detail or "Rolegate refused to issue credentials", ExitCode.DENIED)
    if status in (400, 422):
        return CliError(detail or "invalid request", ExitCode.USAGE)
    if status == 502:
        return CliError(detail or "AWS refused the request", ExitCode.AWS)
    return CliError(
        f"the Rolegate proxy failed (HTTP {status}){': ' + detail if detail else ''}",
        ExitCode.SERVER,
    )
