"""The `rolegate` user CLI: sign in to a Rolegate portal and hand AWS credentials to AWS tools.

Django-free and boto3-free: the credential path (`rolegate aws credentials`) runs for every AWS
CLI call, so it imports only the standard library on a cache hit.
"""

from __future__ import annotations

__all__ = ["VERSION", "version"]

# The release both distributions carry (pyproject.toml and cli/pyproject.toml; a test keeps the
# three equal). A constant, because the User-Agent of every cache miss needs it and
# importlib.metadata costs ~15 ms of start-up.
VERSION = "0.1.0"


def version() -> str:
    """The installed distribution's version (for --version; the User-Agent uses VERSION)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    for distribution in ("rolegate", "rolegate-cli"):  # the server, or the slim CLI alone
        try:
            return package_version(distribution)
        except PackageNotFoundError:
            continue
    return "0+unknown"
