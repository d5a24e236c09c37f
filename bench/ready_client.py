"""A Django test client that notes when each response was ready to send.

A WSGI server writes the response to the client once the application returns it, and only then
closes it; Rolegate does some work on close (`request_finished`: the audit chain's seal of the
request's events). The test client closes the response inside `client.post()`, so timing that
call would count the work after the response as latency. `client.handler.ready` is the moment
the response was ready (before the close), and `statements_ready` how many statements the
connection's query log held then (when queries are captured).
Call after `django.setup()`.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.test import Client
from django.test.client import ClientHandler


class _ReadyHandler(ClientHandler):
    ready = 0.0
    statements_ready = 0

    def get_response(self, request: Any) -> Any:
        response = super().get_response(request)
        self.ready = time.perf_counter()
        self.statements_ready = len(connection.queries_log)
        return response


class ReadyClient(Client):
    """A test client whose `handler.ready` is when its last response was ready to send."""

    handler: _ReadyHandler

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handler = _ReadyHandler(enforce_csrf_checks=False)
