"""Hostile input against every form, API endpoint and YAML kind: no 500s, traces or leaks.

Each test sends hypothesis-generated requests (random text, XSS and template fragments, the
open-redirect corpus, NUL bytes, huge values, wrong JSON types) and checks every response
with `check_response`: no HTTP 500, no stack trace, no payload reflected unescaped in HTML,
no redirect off the site (the launch may only go to the partition's sign-in URL), and, for a
refused request (4xx), no row written anywhere (row counts of every table compared; audit
events of refusals are expected and left out). Budgets: see tests/security/conftest.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.security.conftest import (
    World,
    check_response,
    examples,
    is_local_location,
    row_counts,
)

pytestmark = pytest.mark.django_db

# Every hostile request or document sent, per test, for the final total check.
SENT: dict[str, int] = {}
MINIMUM_CASES = 5000


def _count(request: Any = None) -> None:
    import os

    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
    SENT[test.split("[")[0]] = SENT.get(test.split("[")[0], 0) + 1


XSS = [
    '<script>alert("rg")</script>',
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "<iframe src=javascript:alert(1)>",
    "{{ 7|add:7 }}",
    "{% debug %}",
    "${7*7}",
]
REDIRECTS = [
    "//evil.com",
    "/%2F%2Fevil.com",
    "%2F%2Fevil.com",
    "%2f%2fevil.com",
    "https:evil.com",
    "http:/evil.com",
    "\\\\evil.com",
    "/\\evil.com",
    "/%5Cevil.com",
    "%5C%5Cevil.com",
    "http://127.0.0.1.evil.com",
    "https://evil.com",
    "https://rolegate.example.test@evil.com/",
    "https://signin.aws.amazon.com.evil.com/federation",
    "///evil.com",
    "/\t/evil.com",
    "/%09/evil.com",
    " //evil.com",
    "\x00//evil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java%0d%0ascript:alert(1)",
    "javascript%3Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil%2Ecom",
    "/%2e%2e/%2e%2e//evil.com",
    "/s3/home@evil.com",
    "/\r\nLocation: https://evil.com",
]
ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 5000,
    "../../../etc/passwd",
    "' OR 1=1 --",
    "\u202e\u0660\u0661",
    "%00",
    "NaN",
    "-1",
    "99999999999999999999999",
    "[]",
    "{}",
    "null",
    "*",
    "arn:aws:iam::*:role/*",
]
CORPUS = XSS + REDIRECTS + ODD

hostile = st.one_of(
    st.sampled_from(CORPUS),
    st.text(max_size=120),
    st.builds(
        lambda before, fragment, after: before + fragment + after,
        st.text(max_size=12),
        st.sampled_from(XSS + REDIRECTS),
        st.text(max_size=12),
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)


def _strings(data: dict[str, Any]) -> list[str]:
    return [value for value in data.values() if isinstance(value, str)]


def _post_checked(
    client: Client,
    path: str,
    data: dict[str, Any],
    *,
    allowed: tuple[str, ...] = (),
    htmx: bool = False,
) -> Any:
    """POST, check the invariants, and insist a refused request wrote nothing."""
    before = row_counts()
    headers = {"HX-Request": "true"} if htmx else {}
    _count()
    response = client.post(path, data, headers=headers)
    check_response(response, payloads=_strings(data), allowed_redirect_prefixes=allowed)
    if response.status_code >= 400:
        assert row_counts() == before, f"refused POST {path} {data!r} wrote rows"
    return response


def _get_checked(client: Client, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """GET (which must never write), check the invariants."""
    before = row_counts()
    _count()
    response = client.get(path, data)
    check_response(response, payloads=_strings(data), **kwargs)
    assert row_counts() == before, f"GET {path} {data!r} wrote rows"
    return response


def _client(user: Any = None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


# --- sign-in --------------------------------------------------------------------------------


@examples(250)
@given(username=hostile, password=hostile, next_url=hostile, htmx=st.booleans())
def test_login_form(
    plain_user: Any, username: str, password: str, next_url: str, htmx: bool
) -> None:
    """Bad sign-ins are 4xx with the form; `next` never leads off the site."""
    from django.core.cache import cache

    cache.clear()  # the throttle would turn every case into the same 429
    client = _client()
    data = {"username": username, "password": password, "next": next_url}
    _post_checked(client, "/accounts/login/", data, htmx=htmx)
    _get_checked(client, "/accounts/login/", {"next": next_url})


@pytest.mark.parametrize("next_url", REDIRECTS)
def test_login_next_never_redirects_off_site(plain_user: Any, next_url: str) -> None:
    """A successful sign-in with a hostile `next` lands on this site (GET and POST)."""
    client = _client()
    response = client.post(
        "/accounts/login/",
        {"username": "bob", "password": "correct horse battery", "next": next_url},
    )
    if "\x00" in next_url:  # refused outright (apps.core.middleware), nobody signed in
        assert response.status_code == 400
        return
    assert response.status_code == 302
    assert is_local_location(response["Location"]), response["Location"]
    # Signed in, the login page forwards to `next` at once: the same check applies.
    response = client.get("/accounts/login/", {"next": next_url})
    assert response.status_code == 302
    assert is_local_location(response["Location"]), response["Location"]


# --- role editor ----------------------------------------------------------------------------

role_fields = st.fixed_dictionaries(
    {
        "name": hostile,
        "mode": st.sampled_from(["form", "yaml", "", "bogus"]),
        "allow_labels": st.one_of(
            hostile,
            st.just("env: [dev, '*']"),
            st.just("a: {b: c}"),
            st.just("a: " + "[" * 10000 + "]" * 10000),
        ),
        "allow_arns": st.one_of(hostile, st.just("{{internal.aws_role_arns}}")),
        "deny_labels": hostile,
        "deny_arns": hostile,
        "max_session_ttl": st.one_of(
            hostile, st.sampled_from(["8h", "1h30m", "99999h", "0s", "99999999999h"])
        ),
        "document": st.one_of(
            hostile,
            st.just("[" * 10000 + "]" * 10000),
            st.just(
                "kind: role\nversion: v7\nmetadata: {name: deep}\n"
                "spec: {options: {max_session_ttl: 99999999999h}}\n"
            ),
            json_values.map(json.dumps),
            st.builds(
                lambda name, spec: json.dumps(
                    {"kind": "role", "version": "v7", "metadata": {"name": name}, "spec": spec}
                ),
                hostile,
                json_values,
            ),
        ),
        "revision": st.one_of(hostile, st.integers().map(str)),
    }
)


@examples(200)
@given(data=role_fields, htmx=st.booleans())
def test_role_editor_create_and_validate(staff_user: Any, data: dict[str, Any], htmx: bool) -> None:
    """Role create and live validation refuse bad input with field errors, never a 500."""
    client = _client(staff_user)
    _post_checked(client, "/manage/roles/-/new/", data, htmx=htmx)
    _post_checked(client, "/manage/roles/-/validate/", data, htmx=True)


@examples(80)
@given(data=role_fields, name=hostile)
def test_role_editor_edit_and_delete(staff_user: Any, data: dict[str, Any], name: str) -> None:
    """Editing an existing role with hostile input, and hostile role names in the URL."""
    from apps.access.models import Role
    from apps.access.services import role_create

    if not Role.objects.filter(name="target").exists():
        role_create(actor=None, name="target", spec={"allow": {"app_labels": {"env": "dev"}}})
    client = _client(staff_user)
    _post_checked(client, "/manage/roles/target/", data)
    _get_checked(client, "/manage/roles/-/new/", {"mode": name})
    from urllib.parse import quote

    path = f"/manage/roles/{quote(name, safe='')}/"
    _get_checked(client, path, {"mode": data["mode"]})
    _post_checked(client, path + "delete/", {})


@examples(150)
@given(user=hostile, app=hostile, role_arn=hostile)
def test_access_explainer(staff_user: Any, user: str, app: str, role_arn: str) -> None:
    """The explainer's query parameters."""
    _get_checked(
        _client(staff_user), "/manage/explain/", {"user": user, "app": app, "role_arn": role_arn}
    )


# --- enrollment wizard ----------------------------------------------------------------------

ENROLL = "/manage/integrations/enroll/"


@examples(120)
@given(
    fields=st.fixed_dictionaries(
        {
            "action": st.one_of(st.sampled_from(["next", "back", "test", "enable"]), hostile),
            "name": hostile,
            "trust_anchor": hostile,
            "sync_role": hostile,
            "sync_profile": hostile,
        }
    )
)
def test_wizard_name_step(staff_user: Any, fields: dict[str, Any]) -> None:
    """Step 1 and its live check."""
    client = _client(staff_user)
    _post_checked(client, f"{ENROLL}name/", fields)
    _post_checked(client, f"{ENROLL}name/check/", fields, htmx=True)


@examples(60)
@given(
    fields=st.fixed_dictionaries(
        {
            "action": st.sampled_from(["next", "test", "back", "refresh", "enable", "bogus"]),
            "script_output": st.one_of(
                hostile,
                st.builds(
                    lambda arn: f"TRUST_ANCHOR_ARN={arn}\nPROFILE_ARN={arn}\nROLE_ARN={arn}",
                    hostile,
                ),
            ),
            "trust_anchor_arn": hostile,
            "profile_arn": hostile,
            "role_arn": hostile,
            "mode": hostile,
            "filters": hostile,
        }
    )
)
def test_wizard_connect_and_profiles(world: World, fields: dict[str, Any]) -> None:
    """Steps 3 and 4 (and the preview) with a primed draft; probes go to the sandbox."""
    client = _client(world.users["staff"])
    session = client.session
    session.update(_WIZARD_DRAFT)
    session.save()
    _post_checked(client, f"{ENROLL}connect/", fields)
    _post_checked(client, f"{ENROLL}profiles/", fields)
    _post_checked(client, f"{ENROLL}profiles/preview/", fields, htmx=True)


def _primed_draft() -> dict[str, Any]:
    """A session draft that has finished the Name and Set up steps (read from a real run)."""
    from django.contrib.sessions.backends.db import SessionStore

    from apps.integrations.enrollment import wizard

    store = SessionStore()
    state = wizard.load(store)
    state.name = "aws-hostile"
    state.trust_anchor, state.sync_role, state.sync_profile = "Anchor", "SyncRole", "SyncProfile"
    state.name_done = state.setup_done = True
    wizard.save(store, state)
    return dict(store.items())


_WIZARD_DRAFT: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _wizard_draft(db: Any) -> None:
    if not _WIZARD_DRAFT:
        _WIZARD_DRAFT.update(_primed_draft())


# --- resources, launch, pins ------------------------------------------------------------------


@examples(100)
@given(q=hostile, label=hostile, page=hostile, htmx=st.booleans())
def test_resources_page_filters(world: World, q: str, label: str, page: str, htmx: bool) -> None:
    """Search, label chips and pagination of the Resources page."""
    client = _client(world.users["member"])
    before = row_counts()
    _count()
    response = client.get("/", {"q": q, "label": [label, "aws_account_id=1"], "page": page})
    check_response(response, payloads=[q, label, page])
    assert row_counts() == before
    _post_checked(client, f"/apps/{q[:50] or 'x'}/pin", {"pinned": label}, htmx=htmx)


launch_fields = st.fixed_dictionaries(
    {
        "role": st.one_of(st.just("VALID"), st.just("ExampleReadOnlyAccess"), hostile),
        "region": st.one_of(st.sampled_from(["", "us-east-1", "eu-west-3", "cn-north-1"]), hostile),
        "destination": st.one_of(
            st.sampled_from(["", "/s3/home", "/ec2/v2/home?region=us-east-1"]),
            st.sampled_from(REDIRECTS),
            hostile,
        ),
    }
)


@examples(120)
@given(fields=launch_fields, app=st.one_of(st.just("APP"), hostile), htmx=st.booleans())
def test_launch(world: World, fields: dict[str, Any], app: str, htmx: bool) -> None:
    """The launch dialog (GET) and Launch (POST): only ever to the sandbox's sign-in URL."""
    from urllib.parse import quote

    data = {k: (world.role_arn if v == "VALID" else v) for k, v in fields.items()}
    name = world.app_name if app == "APP" else quote(app, safe="") or "x"
    client = _client(world.users["member"])
    signin = (world.scenario.sandbox.url + "/federation?",)
    _get_checked(client, f"/apps/{name}/launch", data)
    response = _post_checked(client, f"/apps/{name}/launch", data, allowed=signin, htmx=htmx)
    if response.status_code in (302, 204):
        target = response.get("Location") or response.get("HX-Redirect")
        _assert_console_destination(target, world.scenario.sandbox.url)


def _assert_console_destination(location: str, sandbox_url: str) -> None:
    """A launch redirect: the sign-in URL, whose Destination is on the partition's console."""
    from urllib.parse import parse_qs, urlsplit

    assert location.startswith(sandbox_url + "/federation?"), location
    destination = parse_qs(urlsplit(location).query)["Destination"][0]
    parts = urlsplit(destination)
    assert parts.scheme == "https", destination
    assert parts.hostname is not None, destination
    assert parts.hostname == "console.aws.amazon.com" or parts.hostname.endswith(
        ".console.aws.amazon.com"
    ), destination
    assert not parts.username and not parts.password and parts.port is None, destination


def test_launch_destination_corpus_never_leaves_the_console(world: World) -> None:
    """Each open-redirect payload as `destination`: a 400, or the console itself (the payload
    then stays a path on the console host, percent-encoded), never another host."""
    client = _client(world.users["member"])
    signin = world.scenario.sandbox.url
    for destination in REDIRECTS:
        data = {"role": world.role_arn, "destination": destination}
        response = _post_checked(
            client, f"/apps/{world.app_name}/launch", data, allowed=(signin + "/federation?",)
        )
        if response.status_code == 302:
            _assert_console_destination(response["Location"], signin)
        else:
            assert response.status_code == 400, (destination, response.status_code)
            assert "Location" not in response


# --- access requests ------------------------------------------------------------------------


@examples(80)
@given(
    fields=st.fixed_dictionaries(
        {
            "roles": st.one_of(st.just("example-read-only-access"), hostile),
            "reason": hostile,
            "duration": st.one_of(st.sampled_from(["1h", "0h", "999h", "-1h", "1h30m"]), hostile),
            "app": hostile,
        }
    ),
    htmx=st.booleans(),
)
def test_access_request_create(world: World, fields: dict[str, Any], htmx: bool) -> None:
    """Asking for roles with hostile values (as the persona allowed to ask)."""
    client = _client(world.users["other"])
    _get_checked(client, "/requests/new/", {"roles": fields["roles"], "app": fields["app"]})
    _post_checked(client, "/requests/new/", fields, htmx=htmx)


@examples(60)
@given(
    decision=st.one_of(st.sampled_from(["approve", "deny"]), hostile),
    comment=hostile,
    reason=hostile,
    request_id=st.one_of(st.just("REAL"), st.uuids().map(str), hostile),
    htmx=st.booleans(),
)
def test_access_request_review_and_end(
    world: World, decision: str, comment: str, reason: str, request_id: str, htmx: bool
) -> None:
    """Reviews and early ends, with hostile ids in the URL and hostile fields."""
    from urllib.parse import quote

    pending = world.access_request() if request_id == "REAL" else None
    key = str(pending.pk) if pending is not None else quote(request_id, safe="") or "x"
    reviewer = _client(world.users["reviewer"])
    _post_checked(
        reviewer, f"/requests/{key}/review/", {"decision": decision, "comment": comment}, htmx=htmx
    )
    _post_checked(_client(world.users["other"]), f"/requests/{key}/end/", {"reason": reason})
    _get_checked(
        _client(world.users["staff"]), "/requests/history/", {"user": reason, "state": decision}
    )


# --- CLI approval ---------------------------------------------------------------------------


@examples(100)
@given(code=st.one_of(st.just("REAL"), hostile), decision=hostile)
def test_cli_device_approval(plain_user: Any, code: str, decision: str) -> None:
    """The device-login approval page with hostile codes and decisions."""
    from apps.api.services import device_authorization_start

    if code == "REAL":
        code = device_authorization_start(client_name="<b>hostile</b>").authorization.user_code
    client = _client(plain_user)
    _get_checked(client, "/cli/approve", {"code": code})
    _post_checked(client, "/cli/approve", {"code": code, "decision": decision})
    _post_checked(client, f"/cli/tokens/{abs(hash(code)) % 10_000}/revoke", {})


# --- audit filters --------------------------------------------------------------------------


@examples(150)
@given(
    filters=st.fixed_dictionaries(
        {
            "event_type": hostile,
            "actor": hostile,
            "outcome": st.one_of(st.sampled_from(["success", "denied", ""]), hostile),
            "target": hostile,
            "since": st.one_of(st.datetimes().map(str), hostile),
            "until": st.one_of(st.datetimes().map(str), hostile),
            "page": hostile,
        }
    ),
    htmx=st.booleans(),
)
def test_audit_filters(staff_user: Any, filters: dict[str, Any], htmx: bool) -> None:
    """The audit page and the export with hostile filters."""
    client = _client(staff_user)
    before = row_counts()
    _count()
    _count()
    response = client.get("/audit/", filters, headers={"HX-Request": "true"} if htmx else {})
    check_response(response, payloads=_strings(filters))
    response = client.get("/audit/export.jsonl", filters)
    check_response(response, payloads=[])
    assert row_counts() == before


# --- JSON API -------------------------------------------------------------------------------

API_CALLS = [
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/auth/device"),
    ("POST", "/api/v1/auth/device/token"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/apps"),
    ("POST", "/api/v1/apps/{app}/credentials"),
    ("GET", "/api/v1/requests"),
    ("POST", "/api/v1/requests"),
    ("GET", "/api/v1/requests/{id}"),
    ("POST", "/api/v1/requests/{id}/reviews"),
]
# Text no field can store (NUL, lone surrogates; JSON escapes them) in any JSON field: 422.
UNSTORABLE = ["\x00", "a\x00b", "\ud800", "x\udc00y", "\udfff\ud800"]
unstorable_values = st.recursive(
    st.sampled_from(UNSTORABLE) | hostile,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["role_arn", "username", *UNSTORABLE]), children)
    ),
    max_leaves=4,
)
api_bodies = st.one_of(
    json_values.map(json.dumps),
    unstorable_values.map(json.dumps),
    hostile,
    st.fixed_dictionaries(
        {},
        optional={
            "username": json_values,
            "password": json_values,
            "client_name": json_values,
            "device_code": json_values,
            "role_arn": st.one_of(st.just("VALID"), json_values, st.sampled_from(UNSTORABLE)),
            "duration_seconds": json_values,
            "roles": json_values,
            "reason": json_values,
            "duration": json_values,
            "decision": json_values,
            "comment": json_values,
        },
    ).map(json.dumps),
)


@examples(1100)
@given(
    call=st.sampled_from(API_CALLS),
    body=api_bodies,
    name=st.one_of(st.just("APP"), hostile),
    auth=st.one_of(st.just("TOKEN"), st.just(""), hostile),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form"]),
)
def test_api_endpoints(
    world: World, call: tuple[str, str], body: str, name: str, auth: str, content_type: str
) -> None:
    """Every API operation with hostile bodies, names and Authorization headers."""
    from urllib.parse import quote

    if auth == "TOKEN":
        if "member" not in world.tokens:
            world.tokens["member"] = world.api_token("member")
        auth = f"Bearer {world.tokens['member']}"
    method, template = call
    segment = world.app_name if name == "APP" else quote(name, safe="") or "x"
    path = template.format(app=segment, id=segment)
    body = body.replace('"VALID"', json.dumps(world.role_arn))
    headers = {"Authorization": auth} if auth and "\n" not in auth and "\r" not in auth else {}
    client = Client(raise_request_exception=False)
    before = row_counts()
    _count()
    if method == "GET":
        response = client.get(path, headers=headers)
    else:
        response = client.post(path, body, content_type=content_type, headers=headers)
    check_response(response, payloads=[body, name])
    if response.status_code >= 400:
        assert row_counts() == before, f"refused {method} {path} {body!r} wrote rows"
    if "json" in response.get("Content-Type", "") and response.status_code >= 400:
        payload = response.json()
        assert isinstance(payload.get("detail"), str) and payload["detail"], payload
        # The database is up: a "database unavailable" answer means input broke a query.
        assert payload.get("code") != "unavailable", (method, path, body)


# --- YAML kinds through the registry (manage.py create) -------------------------------------


def _kinds() -> list[str]:
    from apps.core import registry

    registry.autodiscover()
    return registry.registered_kinds()


@examples(900)
@given(
    kind=st.one_of(st.sampled_from(["role", "user", "integration", "oidc_connector"]), hostile),
    version=st.one_of(st.sampled_from(["v1", "v2", "v7", None]), hostile),
    name=st.one_of(st.sampled_from(["ok-name", "aws-prod", "alice"]), hostile),
    spec=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "allow": json_values,
                "deny": json_values,
                "options": json_values,
                "roles": json_values,
                "traits": json_values,
                "aws_ra": json_values,
                "issuer_url": json_values,
                "client_id": json_values,
            },
        ),
    ),
    extra=st.dictionaries(st.text(max_size=8), json_values, max_size=2),
    force=st.booleans(),
    broken_second=st.booleans(),
)
def test_yaml_kinds(
    db: Any,
    kind: str,
    version: Any,
    name: str,
    spec: Any,
    extra: dict[str, Any],
    force: bool,
    broken_second: bool,
) -> None:
    """apply_documents either applies the document or raises ResourceError, all or nothing."""
    from apps.core import registry

    registry.autodiscover()
    document = {"kind": kind, "version": version, "metadata": {"name": name}, "spec": spec, **extra}
    # A second document without a name makes the batch fail after the first was applied:
    # the first must then be rolled back too.
    documents = [document, {"kind": kind}] if broken_second else [document]
    before = row_counts()
    _count()
    message = ""
    try:
        registry.apply_documents(documents, actor=None, force=force)
    except registry.ResourceError as error:
        message = str(error)
    if message:
        assert message.startswith("document "), message
        assert row_counts() == before, f"a refused document wrote rows: {document!r}"
    else:
        assert not broken_second, "a document without metadata.name was accepted"


def test_every_registered_kind_is_fuzzed(db: Any) -> None:
    """New kinds must be added to test_yaml_kinds' list."""
    assert set(_kinds()) <= {"role", "user", "integration", "oidc_connector"}, _kinds()


@examples(100)
@given(
    text=st.one_of(
        hostile,
        st.text(max_size=400),
        json_values.map(json.dumps),
        # Nesting deep enough to exhaust PyYAML's recursive composer, and overflowing durations.
        st.integers(min_value=60, max_value=5000).map(lambda n: "[" * n + "]" * n),
        st.sampled_from(
            [
                "kind: role\nversion: v7\nmetadata: {name: r}\n"
                "spec: {options: {max_session_ttl: 99999999999h}}\n",
                "kind: role\nversion: v7\nmetadata: {name: r}\n"
                "spec: {options: {max_session_ttl: 1000000h}}\n",
            ]
        ),
    )
)
def test_create_command_with_hostile_files(db: Any, tmp_path_factory: Any, text: str) -> None:
    """`manage.py create -f FILE` answers a CommandError (one line), never a traceback."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    path = tmp_path_factory.mktemp("yaml") / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    before = row_counts()
    _count()
    message = ""
    try:
        call_command("create", "-f", str(path), stdout=_Sink(), stderr=_Sink())
    except CommandError as error:
        message = str(error) or "(empty message)"
    if message:
        assert "Traceback" not in message
        assert row_counts() == before


class _Sink:
    """A write-only stream for call_command output."""

    def write(self, text: str) -> int:
        """Discard `text`."""
        return len(text)

    def flush(self) -> None:
        """Nothing to flush."""


HYPOTHESIS_TESTS = {
    name
    for name, value in list(globals().items())
    if name.startswith("test_") and hasattr(value, "hypothesis")
}


def test_zz_at_least_5000_hostile_cases() -> None:
    """The default profile sends at least 5,000 hostile requests and documents in this file.

    The counter is per process: checked only when every hypothesis test of the file ran in
    this process (not with -k, and not when pytest-xdist spread the file over workers).
    """
    from tests.security.conftest import PROFILE

    missing = sorted(HYPOTHESIS_TESTS - set(SENT))
    if PROFILE == "security-dev" or missing:
        pytest.skip(
            f"needs a full run of this file in the default or ci profile; not run: {missing}"
        )
    total = sum(SENT.values())
    print(f"hostile cases sent: {total} {SENT}")
    assert total >= MINIMUM_CASES, SENT
