"""`rolegate exec` and `rolegate aws serve`: credentials for a command, or a local endpoint.

`exec APP -- COMMAND` runs COMMAND with AWS_* variables from the shared cache (like
`aws-vault exec`); with `--server` the child gets no keys at all but a local endpoint speaking
the ECS container-credentials protocol, which the SDKs and the AWS CLI poll and which refreshes
through the cache before expiry. `aws serve APP` runs only that endpoint, for containers and
tools started elsewhere.

The endpoint listens on 127.0.0.1 on a random port and answers only requests carrying its
random token (AWS_CONTAINER_AUTHORIZATION_TOKEN), so other local users and web pages (DNS
rebinding) get nothing.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rolegate import credentials
from rolegate.errors import CliError, ExitCode

# Variables that would make the child use something other than what exec hands it.
_SHADOWING = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
NESTED_APP = "ROLEGATE_EXEC_APP"
NESTED_PROXY = "ROLEGATE_EXEC_PROXY"


def _check_region(region: str | None) -> None:
    from rolegate.validate import escape, is_region

    if region is not None and not is_region(region):
        raise CliError(f"--region {escape(region)!r} is not an AWS region", ExitCode.USAGE)


def _check_nesting(app: str, proxy: str) -> None:
    inner = os.environ.get(NESTED_APP)
    if not inner:
        return
    if inner != app or os.environ.get(NESTED_PROXY, proxy) != proxy:
        from rolegate.validate import escape

        raise CliError(
            f"already inside `rolegate exec` for app {escape(inner)!r}; a nested exec for "
            f"{app!r} would mix two identities. Exit that shell first",
            ExitCode.USAGE,
        )


def child_environment(extra: dict[str, str], app: str, proxy: str) -> dict[str, str]:
    """os.environ without anything that shadows `extra`, plus `extra` and the nesting marks."""
    environment = {k: v for k, v in os.environ.items() if k not in _SHADOWING}
    environment.update(extra)
    environment[NESTED_APP] = app
    environment[NESTED_PROXY] = proxy
    return environment


def run_exec(
    *,
    app: str,
    role: str | None,
    proxy: str | None,
    region: str | None,
    server: bool,
    command: list[str],
) -> int:
    """Run `command` with the app's credentials; return its exit code."""
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("no command given: rolegate exec APP -- COMMAND [ARGS…]", ExitCode.USAGE)
    _check_region(region)
    from rolegate import state

    _check_nesting(app, state.require_login(proxy).proxy)
    obtained = credentials.obtain(
        app, role, proxy=proxy, interactive=True, need_region=region is None
    )
    if not server:
        variables = credentials.environment(obtained, region)
        environment = child_environment(variables, app, obtained.login.proxy)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvpe(command[0], command, environment)  # noqa: S606 - the user's own command
        except FileNotFoundError:
            print(f"rolegate: command not found: {command[0]}", file=sys.stderr)
            return 127
        except PermissionError:
            print(f"rolegate: cannot run {command[0]}: permission denied", file=sys.stderr)
            return 126
    endpoint = CredentialEndpoint(app, obtained.role_arn, obtained.login.proxy)
    endpoint.start()
    try:
        variables = endpoint.environment()
        chosen = region or obtained.region
        if chosen:
            variables.update({"AWS_REGION": chosen, "AWS_DEFAULT_REGION": chosen})
        environment = child_environment(variables, app, obtained.login.proxy)
        import signal
        import subprocess

        try:
            child = subprocess.Popen(command, env=environment)  # noqa: S603 - user's command
        except FileNotFoundError:
            print(f"rolegate: command not found: {command[0]}", file=sys.stderr)
            return 127
        except PermissionError:
            print(f"rolegate: cannot run {command[0]}: permission denied", file=sys.stderr)
            return 126
        # The terminal sends Ctrl-C to the child too; rolegate waits for it to finish.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            code = child.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
        return 128 - code if code < 0 else code
    finally:
        endpoint.stop()


def serve(*, app: str, role: str | None, proxy: str | None, region: str | None) -> int:
    """Serve the app's credentials on 127.0.0.1 until interrupted; print the variables first."""
    import shlex
    import signal

    _check_region(region)
    # Resolve (and fetch once) up front: a wrong app or role fails now, not in the tool later.
    obtained = credentials.obtain(
        app, role, proxy=proxy, interactive=True, need_region=region is None
    )
    endpoint = CredentialEndpoint(app, obtained.role_arn, obtained.login.proxy)
    endpoint.start()
    variables = endpoint.environment()
    chosen = region or obtained.region
    if chosen:
        variables.update({"AWS_REGION": chosen, "AWS_DEFAULT_REGION": chosen})
    for name, value in variables.items():
        print(f"export {name}={shlex.quote(value)}")
    print(
        f"rolegate: serving credentials for {app} ({obtained.role_arn}) on "
        f"{endpoint.url}; press Ctrl-C to stop",
        file=sys.stderr,
    )
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.stop()
    return ExitCode.OK


class CredentialEndpoint:
    """The ECS container-credentials protocol for one (portal, app, role) on 127.0.0.1."""

    def __init__(self, app: str, role_arn: str, proxy: str, port: int = 0) -> None:
        self.app = app
        self.role_arn = role_arn
        self.proxy = proxy
        self.token = secrets.token_urlsafe(32)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def environment(self) -> dict[str, str]:
        """What a client needs: the endpoint URL and its token (no keys)."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token,
        }

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def answer(self) -> tuple[int, dict[str, Any]]:
        """(status, body) for one authorised request: fresh credentials through the cache."""
        try:
            # The SDKs refresh 15 minutes before expiry (advisory) and 10 minutes (mandatory);
            # the cache's own margin keeps each served set valid for at least its margin.
            obtained = credentials.obtain(self.app, self.role_arn, proxy=self.proxy)
        except CliError as error:
            status = 503 if error.code in (ExitCode.UNREACHABLE, ExitCode.SERVER) else 502
            if error.code == ExitCode.NOT_LOGGED_IN:
                status = 401
            return status, {"Code": error.code.name, "Message": error.message}
        document = obtained.document
        return 200, {
            "AccessKeyId": document["AccessKeyId"],
            "SecretAccessKey": document["SecretAccessKey"],
            "Token": document["SessionToken"],
            "Expiration": document["Expiration"],
            "RoleArn": self.role_arn,
        }


def _handler(endpoint: CredentialEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rolegate"
        sys_version = ""

        def log_message(self, *args: Any) -> None:
            return  # never log: requests carry the token

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            offered = self.headers.get("Authorization", "")
            if not hmac.compare_digest(offered.encode(), endpoint.token.encode()):
                self._send(403, {"Code": "AccessDenied", "Message": "missing or wrong token"})
                return
            self._send(*endpoint.answer())

        def do_POST(self) -> None:
            self._send(405, {"Code": "MethodNotAllowed", "Message": "use GET"})

    return Handler
