"""`Sandbox`: the offline AWS on one URL, served by werkzeug in a background thread."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from . import moto_backend, persist
from .app import SandboxApp
from .clock import Clock
from .faults import Faults
from .signin_tokens import SigninTokens
from .state import RolesAnywhereState

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_REGION = moto_backend.DEFAULT_REGION
SEEDS = ("guide",)


class _QuietRequestHandler(MotoRequestHandler):
    """moto's handler (keeps underscore headers) with access logs on the `sandbox` logger.

    HTTP/1.1, so clients keep their connections open between calls (the server is threaded:
    one thread per connection), and a benchmark measures Rolegate rather than reconnects.
    """

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug('"%s" %s %s', self.requestline, code, size)


# moto's backends are process-global, so two running sandboxes would share (and reset) state.
_running_lock = threading.Lock()
_running: Sandbox | None = None


class Sandbox:
    """moto (IAM, STS, S3) + Roles Anywhere + console sign-in on one endpoint URL.

    One sandbox per process: moto keeps its backends in module globals.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        seed: str | None = None,
        max_skew: timedelta = timedelta(minutes=5),
        state_file: str | Path | None = None,
    ) -> None:
        if seed is not None and seed not in SEEDS:
            raise ValueError(f"unknown seed {seed!r}; choose one of {', '.join(SEEDS)}")
        self.host = host
        self.port = port
        self.seed = seed
        self.max_skew = max_skew
        self.clock = Clock()
        self.faults = Faults()
        self.state = RolesAnywhereState()
        self.signin_tokens = SigninTokens()
        self.seeded: dict[str, Any] = {}
        # With a state file, the sandbox starts from what it saved there (else from the seed)
        # and saves every change back (sandbox/persist.py).
        self.state_file = Path(state_file) if state_file is not None else None
        self.restored = False
        self._saver: persist.Saver | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._previous_auth_count: float | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind, serve in a daemon thread, enable IAM enforcement, apply the seed."""
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError(
                    f"a sandbox is already running in this process at {_running.url}; "
                    "moto's state is process-global, so run one sandbox per process"
                )
            self._server = make_server(
                self.host,
                self.port,
                SandboxApp(self),
                threaded=True,
                request_handler=_QuietRequestHandler,
            )
            self.port = int(self._server.server_address[1])
            _running = self
        self._previous_auth_count = moto_backend.enable_iam_enforcement()
        try:
            self._reset_state()
            if self.state_file is not None:
                self.restored = persist.load(self, self.state_file)
                self._saver = persist.Saver(self, self.state_file)
                self._saver.start()
                self._saver.changed()  # the seeded state is on disk from the start
        except Exception:
            self.stop()
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sandbox:{self.port}", daemon=True
        )
        self._thread.start()
        logger.info("sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the process-wide slot (state is left for inspection)."""
        global _running
        self.faults.clear()
        if self._saver is not None:
            self._saver.stop()
            self._saver = None
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=10)
            self._server.server_close()
        self._server = None
        self._thread = None
        if self._previous_auth_count is not None:
            moto_backend.restore_iam_enforcement(self._previous_auth_count)
            self._previous_auth_count = None
        with _running_lock:
            if _running is self:
                _running = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        """The endpoint URL (`http://host:port`)."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # -- state ---------------------------------------------------------------------------

    @property
    def clock_offset(self) -> timedelta:
        """How far the sandbox clock is ahead of (or behind) real time."""
        return self.clock.offset

    @clock_offset.setter
    def clock_offset(self, value: timedelta) -> None:
        self.clock.offset = value

    def reset(self) -> None:
        """Forget every AWS resource, fault, token and clock skew; re-apply the start seed."""
        self._reset_state()
        self.state_changed()

    def state_changed(self) -> None:
        """Called after each request that may have changed a resource (saved with a state file)."""
        if self._saver is not None:
            self._saver.changed()

    def _reset_state(self) -> None:
        self.faults.clear()
        self.clock.offset = timedelta(0)
        self.state.clear()
        self.signin_tokens.clear()
        moto_backend.reset_moto()
        self.seeded = {}
        if self.seed == "guide":
            from .seed import seed_guide

            self.seeded = seed_guide(self)
