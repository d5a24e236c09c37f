"""The request the API's bearer authentication leaves behind.

django-ninja sets ``request.auth`` to what the authenticator returned (the user the call acts
as); `apps.api.api.BearerToken` and `apps.api.scoped_auth.ScopedBearer` also remember the token.
Ninja hands endpoints a plain `HttpRequest`, so the helpers that read these attributes cast to
this class: an annotation only, nothing changes at run time.
"""

from __future__ import annotations

from django.http import HttpRequest

from apps.accounts.models import User
from apps.api.models import ApiToken, AutomationToken


class ApiHttpRequest(HttpRequest):
    """A request authenticated by a CLI token or an automation token."""

    auth: User
    # The CLI token, when the caller used one.
    api_token: ApiToken
    # The automation token, when the caller used one (ScopedBearer only).
    automation_token: AutomationToken
