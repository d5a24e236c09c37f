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

from rolegate.errors import CliError, not_logged_in

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
    """Atomically replace `path` with `data`, readable only by its owner (by default).

    The temporary file comes from `mkstemp` (O_EXCL, unpredictable name) in the same
    directory, so a pre-created symlink cannot redirect the write.
    """
    import tempfile

    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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


LOGINS_DIR = "logins"
DEFAULT_FILE = "default-proxy"


def canonical_proxy(value: str) -> str:
    """The stored spelling of a proxy URL: lower-case scheme and host, no trailing slash.

    Standard library string work only (the credential path calls it on every hit); full
    validation happens in rolegate.client.normalize_proxy at login.
    """
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text.rstrip("/")
    netloc, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{netloc.lower()}{(slash + path).rstrip('/')}"


def login_path(proxy: str) -> Path:
    """The login file of one portal: readable name plus a hash, one file per proxy URL."""
    import hashlib
    import re

    canonical = canonical_proxy(proxy)
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", canonical.partition("://")[2])[:60].strip("_")
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    return home() / LOGINS_DIR / f"{readable or 'proxy'}-{digest}.json"


def _read_login(path: Path) -> Login | None:
    """The login stored in `path`; None when absent; the exit-3 error when unusable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise not_logged_in(f"cannot read the login in {path} ({error.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        login = Login(
            proxy=canonical_proxy(str(data["proxy"])),
            user=str(data["user"]),
            token=str(data["token"]),
            expires_at=str(data["expires_at"]),
            ca_file=str(data.get("ca_file") or ""),
            insecure=bool(data.get("insecure", False)),
        )
        login.expires  # noqa: B018 - validates the stored time
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise not_logged_in(f"the login in {path} is unreadable") from None
    return login


def default_proxy() -> str:
    """ROLEGATE_PROXY, else the portal of the most recent login, else ""."""
    configured = os.environ.get("ROLEGATE_PROXY", "").strip()
    if configured:
        return canonical_proxy(configured)
    try:
        return canonical_proxy(
            (home() / DEFAULT_FILE).read_text(encoding="utf-8", errors="replace")
        )
    except OSError:
        return ""


def load_login(*, required: bool = True, proxy: str | None = None) -> Login | None:
    """The login to `proxy` (default: see `default_proxy`); with `required`, raise the
    "run rolegate login" error (exit 3) when there is none, it is unreadable or expired."""
    try:
        login = _find_login(canonical_proxy(proxy) if proxy else default_proxy())
    except CliError:
        if required:
            raise
        return None
    if login is None:
        if required:
            where = f" to {proxy}" if proxy else ""
            raise not_logged_in(f"not logged in{where}")
        return None
    if required and login.expired():
        raise not_logged_in(f"the login to {login.proxy} as {login.user} has expired")
    return login


def _find_login(proxy: str) -> Login | None:
    legacy_path = home() / LOGIN_FILE  # the single login of earlier versions
    if proxy:
        login = _read_login(login_path(proxy))
        if login is not None:
            return login
        legacy = _read_login(legacy_path)
        return legacy if legacy is not None and legacy.proxy == proxy else None
    legacy = _read_login(legacy_path)
    if legacy is not None:
        return legacy
    logins = all_logins()
    if len(logins) == 1:
        return logins[0]
    if len(logins) > 1:
        raise not_logged_in(
            "logged in to several portals and none is the default; pass --proxy or set "
            "ROLEGATE_PROXY"
        )
    return None


def all_logins() -> list[Login]:
    """Every stored login (unreadable files are skipped), sorted by proxy."""
    found: dict[str, Login] = {}
    paths = sorted((home() / LOGINS_DIR).glob("*.json")) if (home() / LOGINS_DIR).is_dir() else []
    for path in [home() / LOGIN_FILE, *paths]:
        try:
            login = _read_login(path)
        except CliError:
            continue
        if login is not None:
            found.setdefault(login.proxy, login)
    return [found[proxy] for proxy in sorted(found)]


def require_login(proxy: str | None = None) -> Login:
    """The current, unexpired login, or the "run rolegate login" error."""
    login = load_login(required=True, proxy=proxy)
    if login is None:  # load_login(required=True) raises instead; this keeps mypy informed
        raise not_logged_in()
    return login


def save_login(login: Login) -> None:
    """Store the login of its portal (0600) and make that portal the default."""
    ensure_dir(home())
    ensure_dir(home() / LOGINS_DIR)
    legacy_path = home() / LOGIN_FILE
    try:
        legacy = _read_login(legacy_path)
    except CliError:
        legacy = None
    # Move the single login of an earlier version to its own file, so it keeps working.
    moved = legacy is not None and legacy.proxy != login.proxy
    if moved and legacy is not None and not login_path(legacy.proxy).exists():
        write_private(login_path(legacy.proxy), json.dumps(legacy.as_dict(), indent=2) + "\n")
    legacy_path.unlink(missing_ok=True)
    write_private(login_path(login.proxy), json.dumps(login.as_dict(), indent=2) + "\n")
    write_private(home() / DEFAULT_FILE, login.proxy + "\n")


def delete_login(proxy: str) -> bool:
    """Forget the login to `proxy`; True if there was one."""
    removed = False
    try:
        login_path(proxy).unlink()
        removed = True
    except FileNotFoundError:
        pass
    try:
        legacy = _read_login(home() / LOGIN_FILE)
    except CliError:
        legacy = None
        (home() / LOGIN_FILE).unlink(missing_ok=True)
        removed = True
    if legacy is not None and legacy.proxy == canonical_proxy(proxy):
        (home() / LOGIN_FILE).unlink(missing_ok=True)
        removed = True
    if default_proxy() == canonical_proxy(proxy) and not os.environ.get("ROLEGATE_PROXY"):
        (home() / DEFAULT_FILE).unlink(missing_ok=True)
    return removed
