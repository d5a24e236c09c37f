"""The one check for where a user may be sent after an action (no open redirects)."""

from __future__ import annotations

from urllib.parse import unquote

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def is_safe_local_path(candidate: str) -> bool:
    """True for a site-relative path that no browser or proxy can turn into another host."""
    if not candidate or not candidate.startswith("/"):
        return False
    # Decode repeatedly: some proxies decode "/%2F%2Fevil.com" into "//evil.com".
    decoded = candidate
    for _ in range(3):
        decoded = unquote(decoded)
    if decoded.startswith(("//", "/\\")) or "\\" in decoded:
        return False
    return not any(ord(char) < 32 or ord(char) == 127 for char in decoded)


def safe_next_url(request: HttpRequest, candidate: str | None, default: str | None = None) -> str:
    """Return ``candidate`` when it stays on this site, else ``default`` (the landing page)."""
    if (
        candidate
        and is_safe_local_path(candidate)
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return resolve_url(default or settings.LOGIN_REDIRECT_URL)
