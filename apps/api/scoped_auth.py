"""Authentication of the admin API: automation tokens with scopes, and CLI tokens of staff.

An automation token (``rga_…``) passes when it carries the endpoint's scope *and* its owner
holds, right now, the staff capability that scope needs; every call is audited with the token's
name, refused ones too. A CLI token (``rgt_…``, a person signed in with ``rolegate login``)
passes when its user holds the capability: it stands for the person, not for a delegation.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from apps.api import automation, selectors, services
from apps.api.models import AutomationToken
from apps.api.scopes import capability_for
from apps.core.capabilities import has_capability


class ScopeRefused(Exception):
    """The token is valid but may not call this endpoint (answered 403)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ScopedBearer(HttpBearer):
    """Bearer authentication requiring ``scope`` (see apps/api/scopes.py)."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        capability_for(scope)  # a typo in a scope name fails at import, not at the first call
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        """Return the user the call acts as, None for an unknown token, or raise ScopeRefused."""
        raw = token.strip()
        capability = capability_for(self.scope)
        found = selectors.automation_token_authenticate(raw)
        if found is not None:
            return self._automation(request, found, capability)
        cli = selectors.token_authenticate(raw)
        if cli is None:
            return None
        if capability and not has_capability(cli.user, capability):
            raise ScopeRefused(
                f"This endpoint needs the {capability} capability.", "capability_missing"
            )
        services.token_touch(token=cli)
        request.api_token = cli  # type: ignore[attr-defined]
        return cli.user

    def _automation(self, request: HttpRequest, token: AutomationToken, capability: str) -> Any:
        refusal, code = "", ""
        if self.scope not in token.scopes:
            refusal = f"The token {token.name!r} lacks the {self.scope} scope."
            code = "scope_missing"
        elif capability and not has_capability(token.owner, capability):
            refusal = (
                f"The owner of token {token.name!r} no longer holds the {capability} capability "
                f"that {self.scope} needs."
            )
            code = "capability_missing"
        automation.automation_token_used(
            token=token,
            scope=self.scope,
            method=request.method or "",
            path=request.path,
            refusal=refusal,
        )
        if refusal:
            raise ScopeRefused(refusal, code)
        request.automation_token = token  # type: ignore[attr-defined]
        return token.owner


def scoped(scope: str) -> ScopedBearer:
    """The auth of an admin endpoint needing ``scope``."""
    return ScopedBearer(scope)
