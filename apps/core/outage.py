"""The web's answer to an outage: a database that cannot be reached is a styled 503 page
(the API answers JSON 503 through its own handler), every other failure Django's 500."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 5


def is_database_outage(error: BaseException | None) -> bool:
    """True for the errors of a database that is down, frozen or unreachable (not a bug)."""
    return isinstance(error, OperationalError | InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: 503 with a page that needs no database when the database is the cause.

    Rendered without the request's context processors: they read the session and the user,
    which would fail again for the same reason.
    """
    if is_database_outage(sys.exc_info()[1]):
        page = loader.get_template("core/database_unavailable.html").render({})
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
    return defaults.server_error(request)
