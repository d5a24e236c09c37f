"""Refuse JSON bodies holding text no Rolegate field can store: NUL and lone surrogates.

PostgreSQL rejects NUL in text and JSON columns, and a lone surrogate (`"\\ud800"`) cannot be
encoded to UTF-8; either reaching a lookup or an insert failed with a database error (a 503
"cannot reach its database", or a 500). Every JSON body is checked before any view runs, in
every field and key at any depth; a refusal is a 422 (JSON under /api/, text elsewhere) and is
audited with the offending value escaped, so the audit row can always be written.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.audit import events

log = logging.getLogger(__name__)

EVENT_INPUT_REFUSED = events.REQUEST_INPUT_REFUSED
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_field(data: object) -> str | None:
    """The path (`role_arn`, `items[2].name`) of the first string holding NUL or a lone
    surrogate, key or value, or None when every string can be stored."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return path or "(the body)"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


def _is_json(request: HttpRequest) -> bool:
    content_type = (request.content_type or "").lower()
    return content_type == "application/json" or content_type.endswith("+json")


class JsonInputGuardMiddleware:
    """422 for a JSON body that holds NUL or a lone surrogate, or nests past Python's limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and _is_json(request):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        try:
            data = json.loads(request.body)
        except RecursionError:
            return self._refuse(request, "(the body)", "the JSON is nested too deeply")
        except ValueError:  # not JSON (or not UTF-8): the view's own parser answers that
            return None
        field = unstorable_field(data)
        if field is None:
            return None
        return self._refuse(
            request,
            field,
            f"{field} contains a NUL character or a lone surrogate, which no Rolegate field "
            "accepts",
        )

    @staticmethod
    def _refuse(request: HttpRequest, field: str, reason: str) -> HttpResponse:
        _audit(request, field, reason)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": reason + ".", "code": "invalid_input"}, status=422)
        return HttpResponse(reason + ".\n", status=422, content_type="text/plain; charset=utf-8")


def _audit(request: HttpRequest, field: str, reason: str) -> None:
    """Record the refusal; best effort (the refusal stands either way)."""
    from apps.audit.models import AuditEvent
    from apps.audit.services import audit_record

    user = getattr(request, "user", None)
    try:
        with transaction.atomic():
            audit_record(
                event_type=EVENT_INPUT_REFUSED,
                actor=user if getattr(user, "is_authenticated", False) else None,
                actor_name=None if getattr(user, "is_authenticated", False) else "anonymous",
                outcome=AuditEvent.Outcome.DENIED,
                target_kind="request",
                target_name=f"{request.method} {request.path}"[:300],
                details={
                    "field": field,
                    "reason": reason,
                    "body": request.body[:2000].decode("utf-8", "replace"),
                },
            )
    except DatabaseError:
        log.exception("could not audit a refused request to %s", request.path)
