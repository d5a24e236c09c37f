"""Authentication of the admin API: automation tokens with scopes, and CLI tokens of staff.

An automation token (``rga_…``) passes when it carries the endpoint's scope *and* its owner
holds, right now, the staff capability that scope needs; every call is audited with the token's
name, refused ones too. A CLI token (``rgt_…``, a person signed in with ``rolegate login``)
passes when its user holds the capability: it stands for the person, not for a delegation.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from ninja.security import HttpBearer

from apps.accounts.models import User
from apps.api import automation, selectors, services
from apps.api.http import ApiHttpRequest
from apps.api.models import ApiToken, AutomationToken
from apps.api.scopes import capability_for
from apps.core.capabilities import has_capability
from apps.core.errors import DomainError


class ScopeRefused(DomainError):
    """The token is valid but may not call this endpoint (answered 403)."""

    code = "scope_refused"
    status = 403

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code=code)


class ScopedBearer(HttpBearer):
    """Bearer authentication requiring ``scope`` (see apps/api/scopes.py)."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        if scope != DEFERRED:
            capability_for(scope)  # a typo in a scope name fails at import, not at first call
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        """Return the user the call acts as, None for an unknown token, or raise ScopeRefused."""
        raw = token.strip()
        found = selectors.automation_token_authenticate(raw)
        if found is not None:
            cast(ApiHttpRequest, request).automation_token = found
            if self.scope != DEFERRED:
                require_scopes(request, [self.scope], user=found.owner)
            return found.owner
        cli = selectors.token_authenticate(raw)
        if cli is None:
            return None
        cast(ApiHttpRequest, request).api_token = cli
        if self.scope != DEFERRED:
            require_scopes(request, [self.scope], user=cli.user)
        services.token_touch(token=cli)
        return cli.user


# The endpoint decides which scopes it needs from the body (``apply``: one per document kind)
# and calls ``require_scopes`` itself.
DEFERRED = "*"


def require_scopes(request: HttpRequest, scopes: list[str], *, user: User | None = None) -> None:
    """Refuse (ScopeRefused) unless the caller holds every scope in ``scopes`` right now.

    An automation token needs each scope and its owner each scope's capability, and the call is
    audited with the token's name either way; a CLI token needs only the capabilities.
    """
    caller = user if user is not None else cast(ApiHttpRequest, request).auth
    token: AutomationToken | None = getattr(request, "automation_token", None)
    wanted = sorted(set(scopes))
    refusal, code = "", ""
    missing = [scope for scope in wanted if token is not None and scope not in token.scopes]
    lacking = [
        capability_for(scope)
        for scope in wanted
        if capability_for(scope) and not has_capability(caller, capability_for(scope))
    ]
    if missing and token is not None:
        refusal = f"The token {token.name!r} lacks the {', '.join(missing)} scope."
        code = "scope_missing"
    elif lacking:
        whose = f"The owner of token {token.name!r}" if token is not None else "You"
        refusal = (
            f"{whose} does not hold the {', '.join(sorted(set(lacking)))} capability that "
            f"{', '.join(wanted)} needs."
        )
        if token is None:
            refusal = f"This endpoint needs the {', '.join(sorted(set(lacking)))} capability."
        code = "capability_missing"
    if token is not None:
        automation.automation_token_used(
            token=token,
            scope=",".join(wanted),
            method=request.method or "",
            path=request.path,
            refusal=refusal,
        )
    else:
        cli: ApiToken | None = getattr(request, "api_token", None)
        if refusal and cli is not None:
            automation.cli_token_refused(
                token=cli,
                scope=",".join(wanted),
                method=request.method or "",
                path=request.path,
                refusal=refusal,
            )
    if refusal:
        raise ScopeRefused(refusal, code)


def scoped(scope: str) -> ScopedBearer:
    """The auth of an admin endpoint needing ``scope``."""
    return ScopedBearer(scope)
