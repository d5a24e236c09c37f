"""Sandbox state on disk: `python -m sandbox --state-file PATH` keeps what was created in it.

`make demo` runs the sandbox with `--state-file var/sandbox/state.pickle`, so a second run shows
exactly what the first left: IAM roles and policies, S3 buckets, Roles Anywhere trust anchors,
profiles, CRLs and tags (a wizard-made integration keeps working; the first sync deletes
nothing). The file is written by the sandbox itself (atomically: a temporary file renamed over
it) after a change and when it stops, and read only at start. It is a development tool's own
cache, never input from anyone else; delete it (or `make clean`) to start from the seed again.
"""

from __future__ import annotations

import logging
import os
import pickle  # nosec B403 - the sandbox's own state file, written and read by the sandbox
import threading
from pathlib import Path
from typing import Any, Protocol

from moto.iam.models import iam_backends
from moto.s3.models import s3_backends

from . import moto_backend


class Sandbox(Protocol):
    """What persistence needs of the sandbox server (sandbox/server.py), without importing it."""

    state: Any
    seeded: Any


logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def save(sandbox: Sandbox, path: Path) -> None:
    """Write the sandbox's AWS state to ``path`` (atomic replace)."""
    with sandbox.state.lock:
        data = {
            "version": FORMAT_VERSION,
            "iam": moto_backend.iam(),
            "s3": moto_backend.s3(),
            "state": sandbox.state,
            "seeded": sandbox.seeded,
        }
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


def load(sandbox: Sandbox, path: Path) -> bool:
    """Restore the state saved in ``path``; False (and the caller seeds) when there is none or
    it cannot be read (another sandbox version wrote it)."""
    if not path.is_file():
        return False
    try:
        data: Any = pickle.loads(path.read_bytes())  # noqa: S301 # nosec B301 - our own file
    except Exception as error:  # an older or damaged file: start from the seed instead
        logger.warning("sandbox: ignoring the state file %s (%s)", path, error)
        return False
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        logger.warning("sandbox: ignoring the state file %s (unknown format)", path)
        return False
    iam_backends[moto_backend.ACCOUNT_ID][moto_backend.PARTITION] = data["iam"]
    s3_backends[moto_backend.ACCOUNT_ID][moto_backend.PARTITION] = data["s3"]
    sandbox.state.restore(data["state"])
    sandbox.seeded = dict(data["seeded"])
    return True


class Saver:
    """Saves the state a moment after each change (and once more at stop), in one thread."""

    def __init__(self, sandbox: Sandbox, path: Path, delay: float = 1.0) -> None:
        self.sandbox = sandbox
        self.path = path
        self.delay = delay
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def changed(self) -> None:
        """A request may have changed something: save soon."""
        self._dirty.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._dirty.wait(0.5):
                self._stop.wait(self.delay)  # let a burst of changes settle
                self._dirty.clear()
                self._save()

    def _save(self) -> None:
        try:
            save(self.sandbox, self.path)
        except Exception:
            logger.exception("sandbox: could not save the state to %s", self.path)

    def stop(self) -> None:
        """Save once more and stop the thread."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._save()
