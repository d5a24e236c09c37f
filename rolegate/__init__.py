"""The `rolegate` user CLI: sign in to a Rolegate portal and hand AWS credentials to AWS tools.

Django-free and boto3-free: the credential path (`rolegate aws credentials`) runs for every AWS
CLI call, so it imports only the standard library on a cache hit.
"""

from __future__ import annotations

__all__ = ["version"]


def version() -> str:
    """The installed package version (read lazily: importlib.metadata costs start-up time)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    for distribution in ("rolegate", "rolegate-cli"):  # the server, or the slim CLI alone
        try:
            return package_version(distribution)
        except PackageNotFoundError:
            continue
    return "0+unknown"
