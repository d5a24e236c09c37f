"""The Rolegate API client: JSON over HTTPS with the standard library, every failure a CliError.

A few lines of HTTP/1.1 over `socket` (and `ssl`) rather than urllib3 or even `http.client`
(which imports the e-mail parser, ~25 ms): the credential path's cache miss must start fast
(issue 23, item 5), and the slim CLI install carries no HTTP library. One request per
connection (`Connection: close`); bodies by Content-Length, chunked, or until close. Every
answer is checked for control characters before a caller sees it (see rolegate.validate).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from urllib.parse import quote, urlsplit

from rolegate.errors import CliError, ExitCode, exit_code_for, not_logged_in
from rolegate.validate import is_loopback

API_PREFIX = "/api/v1"
CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 60.0
MAX_ANSWER_BYTES = 64 * 1024 * 1024


def read_timeout() -> float:
    """Seconds to wait for an answer (ROLEGATE_READ_TIMEOUT, default 60); also bounds lock waits."""
    try:
        value = float(os.environ.get("ROLEGATE_READ_TIMEOUT", "") or DEFAULT_READ_TIMEOUT)
    except ValueError:
        return DEFAULT_READ_TIMEOUT
    return min(max(value, 1.0), 600.0)


def normalize_proxy(value: str, *, insecure_http: bool = False) -> str:
    """A proxy URL → `scheme://host[:port][/path]` without a trailing slash, or a usage error.

    A value without a scheme is refused with a "did you mean" (rather than guessed, which ended
    in an SSL error against a plain-http development server); `http://` is only for loopback
    unless `insecure_http` is set, because a bearer token and AWS keys travel over it.
    """
    text = value.strip()
    if not text:
        raise CliError("--proxy must not be empty", ExitCode.USAGE)
    if "://" not in text:
        host = text.split("/", 1)[0]
        hint = f"https://{text}"
        if is_loopback(host.rsplit(":", 1)[0].strip("[]")):
            hint += f" (or http://{text} for a development server)"
        raise CliError(f"--proxy {value!r} has no scheme: did you mean {hint}?", ExitCode.USAGE)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--proxy {value!r} is not an http(s) URL", ExitCode.USAGE)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise CliError(f"--proxy {value!r} must not carry a query or credentials", ExitCode.USAGE)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise CliError(f"--proxy {value!r} has an invalid port", ExitCode.USAGE) from None
    if parts.scheme == "http" and not insecure_http and not is_loopback(parts.hostname):
        raise CliError(
            f"--proxy {value!r} uses plain http to a host that is not this machine: tokens and "
            "AWS keys would travel unencrypted. Use https://, or --insecure-http if you must",
            ExitCode.USAGE,
        )
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def user_agent() -> str:
    """`rolegate/<version> (<system>)`, recorded in the audit log (no `platform` import: the
    miss path stays lean)."""
    import sys

    from rolegate import VERSION

    system = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}.get(
        sys.platform, sys.platform
    )
    python = ".".join(str(part) for part in sys.version_info[:3])
    return f"rolegate/{VERSION} ({system}; Python {python})"


class ApiClient:
    """Calls one Rolegate proxy, optionally with a bearer token; one connection, reused."""

    def __init__(
        self, proxy: str, *, token: str = "", ca_file: str = "", insecure: bool = False
    ) -> None:
        self.proxy = proxy
        self.token = token
        self.ca_file = ca_file
        self.insecure = insecure
        parts = urlsplit(proxy)
        self.https = parts.scheme == "https"
        self.hostname = parts.hostname or ""
        self.port = parts.port
        self.base_path = parts.path.rstrip("/")
        self.netloc = parts.netloc
        self.check_answers = True
        self.check_answers = True

    def close(self) -> None:
        """Nothing to close: every request has its own connection."""

    def _exchange(self, method: str, target: str, payload: bytes | None, headers: dict[str, str]
                  ) -> tuple[int, bytes]:  # fmt: skip
        """Send one request and read the whole answer: (status, body)."""
        port = self.port or (443 if self.https else 80)
        raw = socket.create_connection((self.hostname, port), timeout=CONNECT_TIMEOUT)
        connection: socket.socket = raw
        try:
            if self.https:
                import ssl

                context = ssl.create_default_context(cafile=self.ca_file or None)
                if self.insecure:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                connection = context.wrap_socket(raw, server_hostname=self.hostname)
            connection.settimeout(read_timeout())
            lines = [f"{method} {target} HTTP/1.1", f"Host: {self.netloc}", "Connection: close"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            if payload is not None or method in ("POST", "PUT", "PATCH"):
                lines.append(f"Content-Length: {len(payload or b'')}")
            head = "\r\n".join(lines) + "\r\n\r\n"
            if any(ch in value for value in lines for ch in "\r\n\x00"):
                raise CliError("a request header contains a line break", ExitCode.ERROR)
            connection.sendall(head.encode("latin-1") + (payload or b""))
            reader = connection.makefile("rb")
            try:
                return _read_response(reader)
            finally:
                reader.close()
        finally:
            connection.close()

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        authenticated: bool = True,
        check: bool = True,
    ) -> tuple[int, Any]:
        """Send one request; return (status, parsed JSON) or raise CliError for transport errors.

        HTTP error statuses are returned, not raised, so callers can react to the API's codes;
        `call` turns them into CliErrors. With `check`, an answer with a control character in
        any string is refused (exit 9) before anyone can write or print it.
        """
        headers = {"Accept": "application/json", "User-Agent": user_agent()}
        if authenticated:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            status, raw = self._exchange(
                method, self.base_path + API_PREFIX + path, payload, headers
            )
        except _BadAnswer:
            raise CliError(
                f"{self.netloc} does not speak HTTP as the Rolegate API does (check --proxy)",
                ExitCode.SERVER,
            ) from None
        except OSError as error:
            raise self._transport_error(error) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise self._not_api(status, "an answer larger than 64 MB")
        if status == 204 or not raw:
            return status, None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            raise self._not_api(status, "something that is not the Rolegate API") from None
        if check and self.check_answers:
            from rolegate.validate import check_tree

            check_tree(data)
        return status, data

    def _not_api(self, status: int, what: str) -> CliError:
        return CliError(
            f"{self.proxy} answered HTTP {status} with {what} (check --proxy)", ExitCode.SERVER
        )

    def _transport_error(self, reason: BaseException) -> CliError:
        import ssl

        host = self.netloc
        if isinstance(reason, ssl.SSLError):
            detail = str(getattr(reason, "reason", "") or reason).strip() or "handshake failed"
            hint = "use --ca-file for a private CA"
            if "WRONG_VERSION_NUMBER" in detail.upper() or "wrong version" in detail.lower():
                hint = f"is it a plain-http server? then use http://{host}"
            return CliError(f"TLS failure talking to {host}: {detail} ({hint})", ExitCode.TLS)
        if isinstance(reason, TimeoutError):
            return CliError(
                f"the Rolegate proxy {host} did not answer in time", ExitCode.UNREACHABLE
            )
        return CliError(f"cannot reach the Rolegate proxy {host}", ExitCode.UNREACHABLE)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        authenticated: bool = True,
        check: bool = True,
    ) -> Any:
        """`request`, then raise CliError for any status but 2xx."""
        status, data = self.request(method, path, body, authenticated=authenticated, check=check)
        if 200 <= status < 300:
            return data
        raise error_for(status, data, self.proxy)


class _BadAnswer(Exception):
    """The peer answered something that is not HTTP/1.x."""


def _read_response(reader: Any) -> tuple[int, bytes]:
    """(status, body) from a buffered socket reader; 1xx answers are skipped."""
    while True:
        status_line = reader.readline(65537)
        if not status_line:
            raise ConnectionResetError("the proxy closed the connection without answering")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise _BadAnswer
        status = int(parts[1])
        headers: dict[str, str] = {}
        for _ in range(200):
            line = reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise _BadAnswer
            headers[name.strip().lower()] = value.strip()
        else:
            raise _BadAnswer
        if 100 <= status < 200:
            continue
        break
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while len(body) <= MAX_ANSWER_BYTES:
            size_line = reader.readline(65537).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadAnswer from None
            if size == 0:
                break
            chunk = reader.read(size)
            if len(chunk) < size:
                raise ConnectionResetError("the answer was cut short")
            body += chunk
            reader.readline(65537)
        return status, bytes(body)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _BadAnswer
        wanted = min(int(length), MAX_ANSWER_BYTES + 1)
        body_bytes: bytes = reader.read(wanted)
        if len(body_bytes) < wanted:
            raise ConnectionResetError("the answer was cut short")
        return status, body_bytes
    if status in (204, 304):
        return status, b""
    return status, reader.read(MAX_ANSWER_BYTES + 1)


def api_path(*parts: str) -> str:
    """Join path segments, percent-encoding each (app names are user input)."""
    return "".join("/" + quote(part, safe="") for part in parts)


_WITHOUT_DETAIL = {
    ExitCode.DENIED: "access denied",
    ExitCode.NOT_FOUND: "not found",
    ExitCode.USAGE: "invalid request",
    ExitCode.AWS: "AWS refused or failed to issue the credentials",
}


def error_for(status: int, data: Any, proxy: str) -> CliError:
    """Map an API error response to the CLI's exit codes, keeping the server's message."""
    from rolegate.validate import escape

    detail = ""
    code = ""
    if isinstance(data, dict):
        detail = escape(data.get("detail") or "")[:1000]
        code = escape(data.get("code") or "")[:100]
    if status == 401:
        if code == "bad_credentials":
            return CliError(detail or "wrong username or password", ExitCode.DENIED)
        return not_logged_in(f"the login to {proxy} has expired or was revoked")
    mapped = exit_code_for(status, code)
    if mapped is not None and mapped is not ExitCode.SERVER:
        return CliError(detail or _WITHOUT_DETAIL.get(mapped, f"HTTP {status} {code}"), mapped)
    # Codes the table does not know (or that disagree with their status): by status alone.
    if status in (403, 429):
        return CliError(detail or "access denied", ExitCode.DENIED)
    if status == 404:
        if code:
            return CliError(detail or "not found", ExitCode.NOT_FOUND)
        return CliError(f"{proxy} has no Rolegate API (check --proxy)", ExitCode.SERVER)
    if status in (400, 422):
        return CliError(detail or "invalid request", ExitCode.USAGE)
    if status == 502:
        return CliError(detail or "AWS refused the request", ExitCode.AWS)
    return CliError(
        f"the Rolegate proxy failed (HTTP {status}){': ' + detail if detail else ''}",
        ExitCode.SERVER,
    )
