"""The request the API's bearer authentication leaves behind.

django-ninja sets ``request.auth`` to what the authenticator returned (the user the call acts
as); `apps.api.api.BearerToken` and `apps.api.scoped_auth.ScopedBearer` also remember the token.
Ninja hands endpoints a plain `HttpRequest`, so the helpers that read these attributes cast to
this class: an annotation only, nothing changes at run time.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Status

from apps.accounts.models import User
from apps.api.models import ApiToken, AutomationToken


class ApiHttpRequest(HttpRequest):
    """A request authenticated by a CLI token or an automation token."""

    auth: User
    # The CLI token, when the caller used one.
    api_token: ApiToken
    # The automation token, when the caller used one (ScopedBearer only).
    automation_token: AutomationToken


# What the endpoints return (ninja validates the body against the operation's response schema).
# A JSON object: the 200 body when an endpoint returns it bare.
JsonObject = dict[str, object]
# An answer with an explicit status: ``Status(201, {...})``, ``Status(404, {detail, code})``.
Answer = Status[JsonObject]
# ``Status(204, None)``.
NoContent = Status[None]


def error_answer(status: int, detail: str, code: str) -> Answer:
    """``Status(status, {detail, code})``, the API's error body, as an `Answer`."""
    return Status(status, {"detail": detail, "code": code})
