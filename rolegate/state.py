"""Local state under ROLEGATE_HOME (default ~/.rolegate): the login and the credential cache.

The directory is 0700 and every file 0600, written atomically (temporary file + rename) so a
crash or a parallel reader never sees half a file. This module imports only the standard library
because the credential path loads it on every AWS CLI call.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from rolegate.errors import CliError, ExitCode, not_logged_in

LOGIN_FILE = "login.json"


def home() -> Path:
    """The state directory (not created)."""
    configured = os.environ.get("ROLEGATE_HOME", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".rolegate"


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700 and tighten it if it is looser."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, data: str, mode: int = 0o600) -> None:
    """Atomically replace `path` with `data`, readable only by its owner (by default)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # O_CREAT's mode is filtered by the umask
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 time (with `Z` or an offset) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a time zone: {value!r}")
    return parsed.astimezone(UTC)


class Login:
    """The current login: which proxy, as whom, with which bearer token, until when.

    A plain class rather than a dataclass: `dataclasses` costs ~7 ms of imports on every AWS CLI
    call (see bench/bench_cli.py).
    """

    __slots__ = ("ca_file", "expires_at", "insecure", "proxy", "token", "user")

    def __init__(
        self,
        *,
        proxy: str,
        user: str,
        token: str,
        expires_at: str,
        ca_file: str = "",
        insecure: bool = False,
    ) -> None:
        self.proxy = proxy
        self.user = user
        self.token = token
        self.expires_at = expires_at
        self.ca_file = ca_file
        self.insecure = insecure

    def __repr__(self) -> str:
        return f"Login(proxy={self.proxy!r}, user={self.user!r}, expires_at={self.expires_at!r})"

    def as_dict(self) -> dict[str, object]:
        """The stored form."""
        return {name: getattr(self, name) for name in sorted(self.__slots__)}

    @property
    def expires(self) -> datetime:
        """`expires_at` as a datetime."""
        return parse_time(self.expires_at)

    def expired(self, now: datetime | None = None) -> bool:
        """True once the token's lifetime is over."""
        return self.expires <= (now or datetime.now(UTC))


def load_login(*, required: bool = True) -> Login | None:
    """Read the login; with `required`, raise the "run rolegate login" error when unusable."""
    path = home() / LOGIN_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise not_logged_in() from None
        return None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", ExitCode.LOCAL_CONFIG) from None
    try:
        data = json.loads(raw)
        login = Login(
            proxy=str(data["proxy"]),
            user=str(data["user"]),
            token=str(data["token"]),
            expires_at=str(data["expires_at"]),
            ca_file=str(data.get("ca_file") or ""),
            insecure=bool(data.get("insecure", False)),
        )
        login.expires  # noqa: B018 - validates the stored time
    except (ValueError, KeyError, TypeError):
        if required:
            raise not_logged_in(f"the login in {path} is unreadable") from None
        return None
    if required and login.expired():
        raise not_logged_in(f"the login to {login.proxy} as {login.user} has expired")
    return login


def require_login() -> Login:
    """The current, unexpired login, or the "run rolegate login" error."""
    login = load_login(required=True)
    if login is None:  # load_login(required=True) raises instead; this keeps mypy informed
        raise not_logged_in()
    return login


def save_login(login: Login) -> None:
    """Store the login (0600)."""
    ensure_dir(home())
    write_private(home() / LOGIN_FILE, json.dumps(login.as_dict(), indent=2) + "\n")


def delete_login() -> bool:
    """Forget the login; True if there was one."""
    try:
        (home() / LOGIN_FILE).unlink()
    except FileNotFoundError:
        return False
    return True
