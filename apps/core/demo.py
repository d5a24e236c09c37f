"""The embedded demo: processes to run and the set-up steps that tell the guide's story."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings


@dataclass
class DemoLogins:
    """Generated passwords, kept in var/demo-logins (mode 0600) so a second run reuses them."""

    path: Path
    passwords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> DemoLogins:
        """Read the stored logins (none on the first run)."""
        logins = cls(path)
        if path.exists():
            for line in path.read_text().splitlines():
                name, _, password = line.partition(" ")
                if name and password:
                    logins.passwords[name] = password
        return logins

    def password_for(self, username: str) -> tuple[str, bool]:
        """Return (password, created_now) for ``username``."""
        if username in self.passwords:
            return self.passwords[username], False
        password = secrets.token_urlsafe(12)
        self.passwords[username] = password
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{name} {value}\n" for name, value in self.passwords.items())
        return password, True


def wait_for_port(host: str, port: int, *, timeout: float = 60.0) -> bool:
    """Poll until something listens on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False


class Supervisor:
    """Runs the demo's processes and stops all of them on Ctrl-C or when one dies."""

    def __init__(self, environ: dict[str, str], log: Callable[[str], None]) -> None:
        self.environ = environ
        self.log = log
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> None:
        """Start one named process in its own process group."""
        self.log(f"starting {name}: {' '.join(argv)}")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - argv built from our own constants
            argv, env=self.environ, cwd=settings.BASE_DIR, start_new_session=True
        )

    def wait(self) -> int:
        """Block until Ctrl-C or a process exits; then stop everything."""
        stop = {"signal": False}

        def on_signal(signum: int, frame: object) -> None:
            stop["signal"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        exit_code = 0
        while not stop["signal"]:
            for name, process in self.processes.items():
                code = process.poll()
                if code is not None:
                    self.log(f"{name} exited with code {code}; stopping the demo")
                    exit_code = code or 1
                    stop["signal"] = True
                    break
            time.sleep(0.3)
        self.stop_all()
        return exit_code

    def stop_all(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after 10 s."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.log("demo stopped")


def python() -> str:
    """The interpreter running the demo (the project's virtualenv)."""
    return sys.executable
