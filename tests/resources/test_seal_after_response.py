"""A web request's audit events are sealed after its response is sent, not before.

The events themselves are committed before the response (an issuance never hands out credentials
its audit rows do not record); only the chain's append waits until the WSGI server closes the
response (`request_finished`). Outside a request (a command, a task, a shell), the seal runs at
commit as before. Checked over real HTTP to the sandbox, with the test client's handler noting
what is in the database at the moment the response is ready to send.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client, RequestFactory
from django.test.client import ClientHandler

from apps.audit.chain import audit_seal, audit_verify
from apps.audit.middleware import SealAfterResponseMiddleware
from apps.audit.models import AuditChainLink, AuditEvent
from apps.audit.services import audit_record
from apps.resources.services import aws_credentials_issue
from tests.resources.conftest import LaunchScenario

pytestmark = pytest.mark.django_db(transaction=True)

ISSUANCE_EVENTS = ("aws_credentials.requested", "aws_credentials.issued")


def _issuance_events() -> dict[int, bool]:
    """Each issuance audit event's id and whether the chain holds it yet."""
    ids = list(
        AuditEvent.objects.filter(event_type__in=ISSUANCE_EVENTS).values_list("id", flat=True)
    )
    sealed = set(AuditChainLink.objects.filter(event_id__in=ids).values_list("event_id", flat=True))
    return {event_id: event_id in sealed for event_id in ids}


class _AtResponse(ClientHandler):
    """The test client's handler, noting the issuance events when the response is ready (a
    WSGI server writes it then, and closes it only afterwards)."""

    seen: dict[int, bool] | None = None

    def get_response(self, request: Any) -> Any:
        response = super().get_response(request)
        self.seen = _issuance_events()
        return response


def _client(**kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.handler = _AtResponse(enforce_csrf_checks=False)
    return client


def _handler(client: Client) -> _AtResponse:
    assert isinstance(client.handler, _AtResponse)
    return client.handler


def test_api_issuance_is_committed_before_the_response_and_sealed_after(
    launch_scenario: LaunchScenario,
) -> None:
    from apps.api.services import token_create

    scenario = launch_scenario
    issued = token_create(
        actor=scenario.alice, user=scenario.alice, method="password", client_name="test"
    )
    api = _client(headers={"Authorization": f"Bearer {issued.plaintext}"})
    before = set(_issuance_events())
    response = api.post(
        f"/api/v1/apps/{scenario.app.name}/credentials",
        {"role_arn": scenario.role_arn},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["Version"] == 1
    at_response = _handler(api).seen
    assert at_response is not None
    new = {event_id: sealed for event_id, sealed in at_response.items() if event_id not in before}
    # The intent and the outcome are committed when the response leaves, neither sealed yet.
    assert len(new) == 2 and not any(new.values()), new
    after = _issuance_events()
    assert all(after[event_id] for event_id in new), after
    report = audit_verify()
    assert report.ok, report


def test_console_launch_is_sealed_after_its_redirect(launch_scenario: LaunchScenario) -> None:
    scenario = launch_scenario
    web = _client()
    web.force_login(scenario.alice)
    response = web.post(f"/apps/{scenario.app.name}/launch", {"role": scenario.role_arn})
    assert response.status_code == 302, response.content[:300]
    at_response = _handler(web).seen
    assert at_response is not None and len(at_response) == 2, at_response
    assert not any(at_response.values()), at_response
    assert all(_issuance_events().values())
    assert audit_verify().ok


def test_outside_a_request_the_seal_runs_at_commit(launch_scenario: LaunchScenario) -> None:
    scenario = launch_scenario
    credentials = aws_credentials_issue(
        actor=scenario.alice, app_name=scenario.app.name, role_arn=scenario.role_arn, purpose="cli"
    )
    assert credentials.access_key_id
    events = _issuance_events()
    assert len(events) == 2 and all(events.values()), events


def _event(name: str) -> int:
    with transaction.atomic():
        return int(audit_record(event_type="test.event", actor=None, target_name=name).pk)


def _sealed(*event_ids: int) -> set[int]:
    return set(
        AuditChainLink.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True)
    )


def test_a_nested_request_keeps_the_outer_requests_events(db: Any) -> None:
    """Each request has its own list: an inner request (a view calling another) neither seals
    nor drops the outer one's events, and each is sealed when its own response closes."""
    seen: dict[str, Any] = {}

    def inner_view(request: Any) -> HttpResponse:
        seen["inner"] = _event("inner")
        return HttpResponse("inner")

    def outer_view(request: Any) -> HttpResponse:
        seen["first"] = _event("outer, before")
        inner = SealAfterResponseMiddleware(inner_view)(RequestFactory().get("/inner"))
        assert _sealed(seen["inner"]) == set()
        inner.close()
        assert _sealed(seen["inner"]) == {seen["inner"]}
        seen["second"] = _event("outer, after")
        return HttpResponse("outer")

    response = SealAfterResponseMiddleware(outer_view)(RequestFactory().get("/outer"))
    assert _sealed(seen["first"], seen["second"]) == set()
    response.close()
    assert _sealed(seen["first"], seen["second"], seen["inner"]) == {
        seen["first"],
        seen["second"],
        seen["inner"],
    }
    assert audit_verify().ok


def test_a_response_never_closed_leaves_nothing_behind(db: Any) -> None:
    """A stream nobody reads or closes (an unread export in a test, a worker killed mid-write)
    leaves its events to the sweep, and code that runs afterwards seals at commit again."""
    seen: dict[str, int] = {}

    def streaming_view(request: Any) -> StreamingHttpResponse:
        seen["in_request"] = _event("in the request")
        return StreamingHttpResponse(iter([b"never read"]))

    SealAfterResponseMiddleware(streaming_view)(RequestFactory().get("/export"))
    later = _event("after the request")
    assert _sealed(seen["in_request"], later) == {later}
    assert audit_seal() == 1  # the sweep's part
    assert audit_verify().ok


def test_under_asgi_the_seal_also_waits_for_the_response(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """portal/asgi.py runs the same middleware: a refused sign-in over ASGI is recorded and
    sealed by the response's closer (the middleware runs in the request's own context), not
    inline at commit."""
    from asgiref.sync import async_to_sync
    from asgiref.testing import ApplicationCommunicator
    from django.core.asgi import get_asgi_application

    from apps.audit import middleware

    closer_sealed: list[int] = []

    def seal_now(*event_ids: int, request_id: str = "") -> None:
        closer_sealed.extend(event_ids)
        chain_seal_now(*event_ids, request_id=request_id)

    chain_seal_now = middleware.seal_now
    monkeypatch.setattr(middleware, "seal_now", seal_now)
    before = set(AuditEvent.objects.values_list("id", flat=True))
    body = json.dumps({"username": "nobody", "password": "not a password"}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/password",
        "raw_path": b"/api/v1/auth/password",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def request() -> list[dict[str, Any]]:
        communicator = ApplicationCommunicator(get_asgi_application(), scope)
        await communicator.send_input({"type": "http.request", "body": body})
        messages = [await communicator.receive_output(10)]
        while messages[-1]["type"] != "http.response.body" or messages[-1].get("more_body"):
            messages.append(await communicator.receive_output(10))
        await communicator.wait(10)  # the application returned: the response is closed
        return messages

    messages = async_to_sync(request)()
    assert messages[0]["status"] == 401, messages
    new = set(AuditEvent.objects.values_list("id", flat=True)) - before
    assert new, "the refused sign-in was not audited"
    assert set(closer_sealed) == new, closer_sealed
    assert _sealed(*new) == new
    assert audit_verify().ok
