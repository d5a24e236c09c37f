"""What every log line says about where it was written: the request (id, user) or the task.

The request id is the one `RequestContextMiddleware` stores in audit rows; the user is read only
once authentication has already loaded it, so logging never costs a query.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from apps.core.context import current_context

_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "rolegate_log_request", default=None
)
_fields: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "rolegate_log_fields", default=None
)


def current_log_fields() -> dict[str, str]:
    """The context fields of the current request or task (empty outside both)."""
    fields = dict(_fields.get() or {})
    request_id = current_context().request_id
    if request_id:
        fields["request_id"] = request_id
    request = _request.get()
    if request is not None:
        # The session user once django.contrib.auth has loaded it, else the API's bearer-token
        # user (django-ninja puts it on request.auth).
        for attribute in ("_cached_user", "auth"):
            user: object = request.__dict__.get(attribute)
            if getattr(user, "is_authenticated", False) and hasattr(user, "get_username"):
                fields["user"] = str(user.get_username())
                break
    return fields


def bind_log_fields(**values: object) -> None:
    """Add fields (`integration=...`) to every later line of the current request or task."""
    fields = dict(_fields.get() or {})
    fields.update({key: str(value) for key, value in values.items() if value is not None})
    _fields.set(fields)


def clear_log_fields() -> None:
    """Forget the bound fields (a task finished)."""
    _fields.set(None)


class LogContextMiddleware:
    """Make the request visible to the log filter for the length of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        fields_token = _fields.set(None)
        try:
            return self.get_response(request)
        finally:
            _fields.reset(fields_token)
            _request.reset(token)


def connect_celery_signals() -> None:
    """Bind the task id, name and (for a sync) integration id for each task's lines."""
    from celery import signals

    def before(task_id: str = "", task: Any = None, args: Any = (), **kwargs: Any) -> None:
        clear_log_fields()
        name = str(getattr(task, "name", ""))
        bind_log_fields(task_id=task_id, task_name=name)
        if name.endswith(".sync_integration") and args:
            bind_log_fields(integration=f"id:{args[0]}")

    def after(**kwargs: Any) -> None:
        clear_log_fields()

    signals.task_prerun.connect(before, weak=False, dispatch_uid="rolegate-log-task-prerun")
    signals.task_postrun.connect(after, weak=False, dispatch_uid="rolegate-log-task-postrun")
