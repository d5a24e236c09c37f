"""Every URL pattern x every persona: the status each one gets, including the refusals.

The table below lists every route of the URLconf with its expectation for anonymous, `user`
(no roles), `member` (holds the app's access role), `other` (a role for other apps only),
`reviewer` (may review requests for the access role), `staff` (every staff capability),
`bare_staff` (is_staff without a capability) and one persona per capability: `auditor`,
`access_admin`, `integration_admin` (apps/core/capabilities.py). A route that is not in the
table fails `test_every_route_is_classified`, so a new route cannot ship unclassified.

Expectations: an int is the status; "L" is a redirect to the sign-in page with `next`;
"R:/path" a redirect to exactly that path; "R:~/prefix" a redirect starting with it; "SIGNIN"
a redirect to the partition's AWS sign-in URL (the sandbox here). Mutating routes are also
POSTed without a CSRF token, which must be refused with 403 for every persona and change
nothing. Admin routes are staff only through `admin_site.admin_view`: every one of them is
checked for anonymous and non-staff callers; the index and a few changelists for staff.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver

from tests.core.test_policies import walk
from tests.security.conftest import PERSONAS, World, check_response, row_counts

pytestmark = pytest.mark.django_db

Expect = tuple[int | str, ...]
Data = Callable[[World, str], dict[str, Any]]


# Columns: anonymous, user, member, other, reviewer, staff, bare_staff, auditor, access_admin,
# integration_admin. `staff` holds every capability (an operator as the upgrade maps them);
# `bare_staff` is staff with none; the last three hold one capability each.
CAPABILITY_COLUMN = {"audit_read": 7, "access_admin": 8, "integration_admin": 9}


def needs(capability: str, ok: int | str) -> Expect:
    """Anonymous → sign-in; without the capability → 403; `staff` and its holder → `ok`."""
    row: list[int | str] = ["L", 403, 403, 403, 403, ok, 403, 403, 403, 403]
    row[CAPABILITY_COLUMN[capability]] = ok
    return tuple(row)


def any_staff(ok: int | str) -> Expect:
    """Anonymous → sign-in; non-staff → 403; every staff user → `ok`."""
    return ("L", 403, 403, 403, 403, ok, ok, ok, ok, ok)


def like_user(row: Expect) -> Expect:
    """A six-column row whose staff personas, without roles, get what `user` gets."""
    return (*row, *(row[1],) * 4)


def signed_in(ok: int | str) -> Expect:
    """Anonymous → sign-in; everyone signed in → `ok`."""
    return ("L", *(ok,) * (len(PERSONAS) - 1))


def everyone(ok: int | str) -> Expect:
    """The same answer for every persona."""
    return (ok,) * len(PERSONAS)


def _no_data(world: World, persona: str) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Route:
    """How to reach one route and what each persona gets for GET and (if it mutates) POST."""

    path: Callable[[World, str], str]
    get: Expect | None
    post: Expect | None = None
    data: Data = _no_data

    def url(self, world: World, persona: str) -> str:
        """The concrete path for `persona` (factories may create a fresh object per call)."""
        return self.path(world, persona)


def fixed(path: str) -> Callable[[World, str], str]:
    """A route without parameters."""
    return lambda world, persona: path


def _launch(world: World, persona: str) -> str:
    return f"/apps/{world.app_name}/launch"


def _pin(world: World, persona: str) -> str:
    return f"/apps/{world.app_name}/pin"


def _request(world: World, persona: str) -> str:
    return f"/requests/{world.access_request().pk}/"


def _approved_request(world: World, persona: str) -> str:
    return f"/requests/{world.access_request(approved=True).pk}/"


def _scratch_role(world: World, persona: str) -> str:
    from apps.access.services import role_create

    name = f"scratch-{persona.replace('_', '-')}-{len(world.tokens)}"
    world.tokens[name] = name  # a counter, so each call gets a new name
    role_create(actor=None, name=name, spec={"allow": {"app_labels": {"env": "dev"}}})
    return f"/manage/roles/{name}/"


def _scratch_user(world: World, persona: str) -> str:
    from apps.accounts.models import User

    name = f"scratch-user-{persona.replace('_', '-')}-{len(world.tokens)}"
    world.tokens[name] = name
    User.objects.create(username=name)
    return f"/manage/users/{name}/"


def _members_token(world: World, persona: str) -> str:
    from apps.api.models import ApiToken

    world.api_token("member")
    token = ApiToken.objects.filter(user=world.users["member"]).order_by("-pk").first()
    assert token is not None
    return f"/cli/tokens/{token.pk}/revoke"


def _device_code(world: World, persona: str) -> dict[str, Any]:
    from apps.api.services import device_authorization_start

    started = device_authorization_start(client_name="matrix")
    return {"code": started.authorization.user_code, "decision": "approve"}


def _new_role(world: World, persona: str) -> dict[str, Any]:
    return {"name": f"new-{persona.replace('_', '-')}", "mode": "form", "allow_labels": "env: dev"}


def _edit_role(world: World, persona: str) -> dict[str, Any]:
    return {"mode": "form", "allow_labels": "env: staging", "revision": "1"}


ENROLL = "/manage/integrations/enroll/"
ENROLL_NAME = {
    "action": "next",
    "name": "aws-matrix",
    "trust_anchor": "RolegateMatrixCA",
    "sync_role": "RolegateMatrixSync",
    "sync_profile": "RolegateMatrixSync",
}

ROUTES: dict[str, Route] = {
    # core
    "manage/": Route(fixed("/manage/"), any_staff(200)),
    "healthz": Route(fixed("/healthz"), everyone(200)),
    "readyz": Route(fixed("/readyz"), everyone(200)),
    "metrics": Route(fixed("/metrics"), everyone(404)),  # off: no ROLEGATE_METRICS_TOKEN in tests
    # resources
    "": Route(fixed("/"), signed_in(200)),
    # An app the persona may not use is 404 app_not_found, as on the API (issue 19).
    "apps/<str:name>/launch": Route(
        _launch,
        get=like_user(("L", 404, 200, 404, 404, 404)),
        post=like_user(("L", 404, "SIGNIN", 404, 404, 404)),
        data=lambda world, persona: {"role": world.role_arn},
    ),
    "apps/<str:name>/pin": Route(
        _pin,
        get=signed_in(405),
        post=like_user(("L", 404, "R:/", 404, 404, 404)),
        data=lambda world, persona: {"pinned": "1"},
    ),
    # accounts
    "accounts/login/": Route(
        fixed("/accounts/login/"),
        get=(200, *("R:/",) * (len(PERSONAS) - 1)),
        post=everyone(401),
        data=lambda world, persona: {"username": "carol", "password": "wrong password"},
    ),
    "accounts/logout/": Route(
        fixed("/accounts/logout/"), get=signed_in(405), post=signed_in("R:/accounts/login/")
    ),
    # single sign-on is not configured in tests: both ends answer 404
    "oidc/authenticate/": Route(fixed("/oidc/authenticate/"), everyone(404)),
    "oidc/callback/": Route(fixed("/oidc/callback/"), everyone(404)),
    # audit
    "audit/": Route(fixed("/audit/"), needs("audit_read", 200)),
    "audit/export.jsonl": Route(fixed("/audit/export.jsonl"), needs("audit_read", 200)),
    # authority: the CA certificates are public
    "auth/export": Route(fixed("/auth/export"), everyone(200)),
    # integrations (operators)
    "manage/integrations/": Route(fixed("/manage/integrations/"), needs("integration_admin", 200)),
    "manage/integrations/<str:name>/": Route(
        fixed("/manage/integrations/aws-prod/"), needs("integration_admin", 200)
    ),
    "manage/integrations/<str:name>/sync/": Route(
        fixed("/manage/integrations/aws-prod/sync/"),
        get=needs("integration_admin", 405),
        post=needs("integration_admin", "R:/manage/integrations/aws-prod/"),
    ),
    # enrollment wizard (fresh session: every step after Name sends the operator back)
    "manage/integrations/enroll/": Route(
        fixed(ENROLL), needs("integration_admin", f"R:{ENROLL}name/")
    ),
    "manage/integrations/enroll/reset/": Route(
        fixed(f"{ENROLL}reset/"),
        get=needs("integration_admin", 405),
        post=needs("integration_admin", f"R:{ENROLL}name/"),
    ),
    "manage/integrations/enroll/name/": Route(
        fixed(f"{ENROLL}name/"),
        get=needs("integration_admin", 200),
        post=needs("integration_admin", f"R:{ENROLL}setup/"),
        data=lambda world, persona: dict(ENROLL_NAME),
    ),
    "manage/integrations/enroll/name/check/": Route(
        fixed(f"{ENROLL}name/check/"),
        get=needs("integration_admin", 405),
        post=needs("integration_admin", 200),
        data=lambda world, persona: {"name": "aws-x"},
    ),
    "manage/integrations/enroll/setup/": Route(
        fixed(f"{ENROLL}setup/"),
        get=needs("integration_admin", f"R:{ENROLL}name/"),
        post=needs("integration_admin", 409),
        data=lambda world, persona: {"action": "next"},
    ),
    "manage/integrations/enroll/setup/rolegate-enroll.sh": Route(
        fixed(f"{ENROLL}setup/rolegate-enroll.sh"), needs("integration_admin", 409)
    ),
    "manage/integrations/enroll/setup/rolegate-enroll.yaml": Route(
        fixed(f"{ENROLL}setup/rolegate-enroll.yaml"), needs("integration_admin", 409)
    ),
    "manage/integrations/enroll/connect/": Route(
        fixed(f"{ENROLL}connect/"),
        get=needs("integration_admin", f"R:{ENROLL}name/"),
        post=needs("integration_admin", 409),
        data=lambda world, persona: {"action": "test"},
    ),
    "manage/integrations/enroll/profiles/": Route(
        fixed(f"{ENROLL}profiles/"),
        get=needs("integration_admin", f"R:{ENROLL}name/"),
        post=needs("integration_admin", 409),
        data=lambda world, persona: {"action": "enable"},
    ),
    "manage/integrations/enroll/profiles/preview/": Route(
        fixed(f"{ENROLL}profiles/preview/"),
        get=needs("integration_admin", 405),
        post=needs("integration_admin", 409),
    ),
    "manage/integrations/enroll/done/<str:name>/": Route(
        fixed(f"{ENROLL}done/aws-prod/"), needs("integration_admin", 200)
    ),
    "manage/integrations/enroll/done/<str:name>/progress/": Route(
        fixed(f"{ENROLL}done/aws-prod/progress/"), needs("integration_admin", 200)
    ),
    # role editor and explainer
    "manage/roles/": Route(fixed("/manage/roles/"), needs("access_admin", 200)),
    "manage/roles/-/new/": Route(
        fixed("/manage/roles/-/new/"),
        get=needs("access_admin", 200),
        post=needs("access_admin", "R:~/manage/roles/new-"),
        data=_new_role,
    ),
    "manage/roles/-/validate/": Route(
        fixed("/manage/roles/-/validate/"),
        get=needs("access_admin", 405),
        post=needs("access_admin", 200),
        data=_new_role,
    ),
    "manage/roles/<str:name>/": Route(
        _scratch_role,
        get=needs("access_admin", 200),
        post=needs("access_admin", "R:~/manage/roles/scratch-"),
        data=_edit_role,
    ),
    "manage/roles/<str:name>/delete/": Route(
        lambda world, persona: _scratch_role(world, persona) + "delete/",
        get=needs("access_admin", 200),
        post=needs("access_admin", "R:/manage/roles/"),
    ),
    "manage/explain/": Route(fixed("/manage/explain/"), needs("access_admin", 200)),
    # the Users page: roles and traits, written through apps.access.user_admin
    "manage/users/": Route(fixed("/manage/users/"), needs("access_admin", 200)),
    "manage/users/<str:username>/": Route(_scratch_user, needs("access_admin", 200)),
    "manage/users/<str:username>/roles/": Route(
        lambda world, persona: _scratch_user(world, persona) + "roles/",
        get=needs("access_admin", 405),
        post=needs("access_admin", "R:~/manage/users/scratch-user-"),
        data=lambda world, persona: {"roles": "example-read-only-access"},
    ),
    "manage/users/<str:username>/traits/": Route(
        lambda world, persona: _scratch_user(world, persona) + "traits/",
        get=needs("access_admin", 405),
        post=needs("access_admin", "R:~/manage/users/scratch-user-"),
        data=lambda world, persona: {"trait_name": "team", "trait_values": "platform"},
    ),
    # access requests: `other` may ask for the access role, `reviewer` may review it
    "requests/": Route(fixed("/requests/"), signed_in(200)),
    "requests/new/": Route(
        fixed("/requests/new/"),
        get=signed_in(200),
        post=like_user(("L", 403, 403, "R:~/requests/", 403, 403)),
        data=lambda world, persona: {
            "roles": "example-read-only-access",
            "reason": "matrix",
            "duration": "1h",
        },
    ),
    "requests/review/": Route(fixed("/requests/review/"), signed_in(200)),
    "requests/history/": Route(fixed("/requests/history/"), needs("access_admin", 200)),
    "requests/<uuid:pk>/": Route(_request, ("L", 404, 404, 200, 200, 200, 404, 404, 200, 404)),
    "requests/<uuid:pk>/review/": Route(
        lambda world, persona: _request(world, persona) + "review/",
        get=signed_in(405),
        post=like_user(("L", 403, 403, 403, "R:~/requests/", 403)),
        data=lambda world, persona: {"decision": "approve", "comment": "ok"},
    ),
    "requests/<uuid:pk>/end/": Route(
        lambda world, persona: _approved_request(world, persona) + "end/",
        get=signed_in(405),
        post=("L", 404, 404, "R:~/requests/", 404, "R:~/requests/", 404, 404, "R:~/requests/", 404),
    ),
    "requests/<uuid:pk>/cancel/": Route(
        lambda world, persona: _request(world, persona) + "cancel/",
        get=signed_in(405),
        post=like_user(("L", 404, 404, "R:~/requests/", 404, 404)),
    ),
    # browser pages of the CLI
    "cli/approve": Route(
        fixed("/cli/approve"), get=signed_in(200), post=signed_in(200), data=_device_code
    ),
    "cli/tokens": Route(fixed("/cli/tokens"), signed_in(200)),
    # Automation tokens (issue 25): any staff user, for tokens they own; an empty form is a 400.
    "cli/automation-tokens": Route(
        fixed("/cli/automation-tokens"), any_staff(200), post=any_staff(400)
    ),
    "cli/automation-tokens/<int:token_id>/revoke": Route(
        fixed("/cli/automation-tokens/999999/revoke"), get=any_staff(405), post=any_staff(404)
    ),
    "cli/tokens/<int:token_id>/revoke": Route(
        _members_token,
        get=signed_in(405),
        post=like_user(("L", 404, "R:/cli/tokens", 404, 404, 404)),
    ),
}

# The JSON API authenticates with bearer tokens (no cookies, so no CSRF): anonymous is a call
# without a token. A hidden app answers 404 like a missing one (the API never confirms it).


@dataclass(frozen=True)
class ApiRoute:
    """One operation of the API: its route, method, path and body, and the expectation."""

    route: str
    method: str
    path: Callable[[World], str]
    expect: Expect
    body: Callable[[World], Any] = lambda world: {}


def _api_request(world: World) -> str:
    return f"/api/v1/requests/{world.access_request().pk}"


API_ROUTES: list[ApiRoute] = [
    ApiRoute("api/v1/openapi.json", "GET", lambda w: "/api/v1/openapi.json", everyone(200)),
    ApiRoute("api/v1/docs", "GET", lambda w: "/api/v1/docs", everyone(200)),
    ApiRoute("api/v1/", "GET", lambda w: "/api/v1/", everyone(404)),
    ApiRoute(
        "api/v1/auth/password",
        "POST",
        lambda w: "/api/v1/auth/password",
        everyone(401),
        lambda w: {"username": "carol", "password": "wrong password"},
    ),
    ApiRoute("api/v1/auth/device", "POST", lambda w: "/api/v1/auth/device", everyone(200)),
    ApiRoute(
        "api/v1/auth/device/token",
        "POST",
        lambda w: "/api/v1/auth/device/token",
        everyone(400),
        lambda w: {"device_code": "not-a-device-code"},
    ),
    ApiRoute("api/v1/auth/logout", "POST", lambda w: "/api/v1/auth/logout", (401, *[204] * 9)),
    ApiRoute("api/v1/me", "GET", lambda w: "/api/v1/me", (401, *[200] * 9)),
    ApiRoute("api/v1/apps", "GET", lambda w: "/api/v1/apps", (401, *[200] * 9)),
    ApiRoute(
        "api/v1/apps/<name>/credentials",
        "POST",
        lambda w: f"/api/v1/apps/{w.app_name}/credentials",
        like_user((401, 404, 200, 404, 404, 404)),
        lambda w: {"role_arn": w.role_arn},
    ),
    ApiRoute(
        "api/v1/apps/<name>/console",
        "POST",
        lambda w: f"/api/v1/apps/{w.app_name}/console",
        like_user((401, 404, 200, 404, 404, 404)),
        lambda w: {"role_arn": w.role_arn},
    ),
    ApiRoute("api/v1/requests", "GET", lambda w: "/api/v1/requests", (401, *[200] * 9)),
    ApiRoute(
        "api/v1/requests",
        "POST",
        lambda w: "/api/v1/requests",
        like_user((401, 403, 403, 201, 403, 403)),
        lambda w: {"roles": ["example-read-only-access"], "reason": "matrix", "duration": "1h"},
    ),
    ApiRoute(
        "api/v1/requests/<request_id>",
        "GET",
        _api_request,
        (401, 404, 404, 200, 200, 200, 404, 404, 200, 404),
    ),
    ApiRoute(
        "api/v1/requests/<request_id>/reviews",
        "POST",
        lambda w: _api_request(w) + "/reviews",
        like_user((401, 403, 403, 403, 200, 403)),
        lambda w: {"decision": "approve", "comment": "ok"},
    ),
    ApiRoute(
        "api/v1/requests/<request_id>/cancel",
        "POST",
        lambda w: _api_request(w) + "/cancel",
        like_user((401, 404, 404, 200, 404, 404)),
        lambda w: {},
    ),
]


def api_needs(capability: str, ok: int) -> Expect:
    """The admin API with a CLI token: 401 without one, 403 without the capability."""
    row: list[int | str] = [401, 403, 403, 403, 403, ok, 403, 403, 403, 403]
    row[CAPABILITY_COLUMN[capability]] = ok
    return tuple(row)


_NO_REQUEST = "/api/v1/requests/00000000-0000-0000-0000-000000000000"
_BAD_ROLE = {"name": "matrix", "spec": {"allow": {"app_labels": {"env": "^(x$"}}}}
_BAD_INTEGRATION = {"metadata": {"name": "matrix"}, "spec": {}}
# The admin API (issue 25). Written to names that do not exist, so no persona changes anything:
# a holder of the capability gets past authorization (400/404), everyone else 403.
API_ROUTES += [
    ApiRoute("api/v1/roles", "GET", lambda w: "/api/v1/roles", api_needs("access_admin", 200)),
    ApiRoute(
        "api/v1/roles",
        "POST",
        lambda w: "/api/v1/roles",
        api_needs("access_admin", 400),
        lambda w: _BAD_ROLE,
    ),
    *(
        ApiRoute(
            "api/v1/roles/<name>",
            method,
            lambda w: "/api/v1/roles/no-such-role",
            api_needs("access_admin", 404),
            lambda w: {"spec": {}},
        )
        for method in ("GET", "PUT", "DELETE")
    ),
    ApiRoute(
        "api/v1/integrations",
        "GET",
        lambda w: "/api/v1/integrations",
        api_needs("integration_admin", 200),
    ),
    ApiRoute(
        "api/v1/integrations",
        "POST",
        lambda w: "/api/v1/integrations",
        api_needs("integration_admin", 400),
        lambda w: _BAD_INTEGRATION,
    ),
    *(
        ApiRoute(
            "api/v1/integrations/<name>",
            method,
            lambda w: "/api/v1/integrations/no-such-integration",
            api_needs("integration_admin", 404),
            lambda w: _BAD_INTEGRATION,
        )
        for method in ("GET", "PUT", "DELETE")
    ),
    ApiRoute(
        "api/v1/integrations/<name>/sync",
        "POST",
        lambda w: "/api/v1/integrations/no-such-integration/sync",
        api_needs("integration_admin", 404),
    ),
    ApiRoute(
        "api/v1/integrations/<name>/runs",
        "GET",
        lambda w: "/api/v1/integrations/no-such-integration/runs",
        api_needs("integration_admin", 404),
    ),
    # The queue needs no staff capability: it is whatever the caller's roles let them review.
    ApiRoute("api/v1/requests/queue", "GET", lambda w: "/api/v1/requests/queue", (401, *[200] * 9)),
    ApiRoute(
        "api/v1/requests/<request_id>/approve",
        "POST",
        lambda w: _api_request(w) + "/approve",
        like_user((401, 403, 403, 403, 200, 403)),
        lambda w: {"reason": "matrix"},
    ),
    ApiRoute(
        "api/v1/requests/<request_id>/deny",
        "POST",
        lambda w: _NO_REQUEST + "/deny",
        (401, *[404] * 9),
        lambda w: {"reason": "matrix"},
    ),
    ApiRoute(
        "api/v1/audit/events",
        "GET",
        lambda w: "/api/v1/audit/events",
        api_needs("audit_read", 200),
    ),
    ApiRoute("api/v1/users", "GET", lambda w: "/api/v1/users", api_needs("access_admin", 200)),
    ApiRoute(
        "api/v1/users/<username>",
        "GET",
        lambda w: "/api/v1/users/no-such-user",
        api_needs("access_admin", 404),
    ),
    ApiRoute(
        "api/v1/users/<username>/roles",
        "PUT",
        lambda w: "/api/v1/users/no-such-user/roles",
        api_needs("access_admin", 404),
        lambda w: {"roles": []},
    ),
    ApiRoute(
        "api/v1/users/<username>/traits",
        "PUT",
        lambda w: "/api/v1/users/no-such-user/traits",
        api_needs("access_admin", 404),
        lambda w: {"traits": {}},
    ),
    ApiRoute(
        "api/v1/webhooks",
        "GET",
        lambda w: "/api/v1/webhooks",
        api_needs("integration_admin", 200),
    ),
    *(
        ApiRoute(
            "api/v1/webhooks/<name>",
            method,
            lambda w: "/api/v1/webhooks/no-such-hook",
            api_needs("integration_admin", status),
            lambda w: {"url": "ftp://x", "secret": "s" * 20, "event_types": ["sessions.revoked"]},
        )
        for method, status in (("PUT", 400), ("DELETE", 404))
    ),
    ApiRoute(
        "api/v1/webhooks/<name>/deliveries",
        "GET",
        lambda w: "/api/v1/webhooks/no-such-hook/deliveries",
        api_needs("integration_admin", 404),
    ),
    ApiRoute(
        "api/v1/apply",
        "POST",
        lambda w: "/api/v1/apply",
        api_needs("access_admin", 400),
        lambda w: {
            "documents": [{"kind": "role", "metadata": {"name": "m"}, "spec": _BAD_ROLE["spec"]}]
        },
    ),
    ApiRoute(
        "api/v1/audit/export",
        "GET",
        lambda w: "/api/v1/audit/export",
        api_needs("audit_read", 200),
    ),
]
API_ROUTE_NAMES = {entry.route for entry in API_ROUTES}

# Admin routes, by shape. All of them go through admin_site.admin_view (or are the admin's own
# login/logout/i18n pages); a custom admin view outside these shapes must be added here.
ADMIN_SHAPES = (
    r"admin/",
    r"admin/login/",
    r"admin/logout/",
    r"admin/password_change/",
    r"admin/password_change/done/",
    r"admin/autocomplete/",
    r"admin/jsi18n/",
    r"admin/r/<path:content_type_id>/<path:object_id>/",
    r"admin/\^\(\?P<app_label>.*",
    r"admin/\(\?P<url>\.\*\)\$",
    r"admin/[a-z_]+/[a-z_]+/",
    r"admin/[a-z_]+/[a-z_]+/add/",
    r"admin/[a-z_]+/[a-z_]+/<path:object_id>/(history/|delete/|change/)?",
    r"admin/accounts/user/<id>/password/",
    r"admin/authority/certificateauthority/export/",
    r"admin/authority/certificateauthority/rotate/<str:phase>/",
)
# Admin pages that answer anonymous callers themselves.
ADMIN_PUBLIC = {"admin/login/", "admin/jsi18n/", "admin/logout/"}
STAFF_ADMIN_SAMPLE = (
    "/admin/",
    "/admin/audit/auditevent/",
    "/admin/resources/awsapp/",
    "/admin/integrations/integration/",
    "/admin/access/role/",
)


def _routes() -> list[tuple[str, str]]:
    return [
        (namespace, route)
        for namespace, route, _view in walk(get_resolver())
        if not route.startswith("static/")
    ]


def test_every_route_is_classified() -> None:
    """A route missing from the tables fails here: new routes must say who may use them."""
    unclassified = []
    for namespace, route in _routes():
        if namespace == "admin":
            if not any(re.fullmatch(shape, route) for shape in ADMIN_SHAPES):
                unclassified.append(route)
        elif route not in ROUTES and route not in API_ROUTE_NAMES:
            unclassified.append(route)
    assert unclassified == [], "routes without an expectation in the matrix: " + ", ".join(
        unclassified
    )
    walked = {route for _ns, route in _routes()}
    stale = sorted((set(ROUTES) | API_ROUTE_NAMES) - walked)
    assert stale == [], f"the matrix lists routes that no longer exist: {stale}"


def _check(
    world: World, response: Any, expected: int | str, path: str, persona: str, method: str
) -> str | None:
    """Compare one response with its expectation; return a readable mismatch or None."""
    check_response(response, payloads=[], allowed_redirect_prefixes=(world.scenario.sandbox.url,))
    status, location = response.status_code, response.get("Location", "")
    where = f"{method} {path} as {persona}"
    if isinstance(expected, int):
        if status != expected:
            return f"{where}: expected {expected}, got {status} {location}"
        return None
    if status != 302:
        return f"{where}: expected a redirect ({expected}), got {status}"
    if expected == "L":
        ok = location.startswith("/accounts/login/?next=")
    elif expected == "SIGNIN":
        ok = location.startswith(world.scenario.sandbox.url + "/federation?Action=login")
    elif expected.startswith("R:~"):
        ok = location.startswith(expected[3:])
    else:
        ok = location == expected[2:]
    return None if ok else f"{where}: expected {expected}, redirected to {location}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_web_routes_per_persona(world: World, persona: str) -> None:
    """GET, POST without CSRF (403, nothing written) and POST with CSRF, per the table."""
    index = PERSONAS.index(persona)
    mismatches: list[str | None] = []
    for name, route in ROUTES.items():
        if route.get is not None:
            path = route.url(world, persona)
            response = world.client(persona).get(path)
            mismatches.append(_check(world, response, route.get[index], path, persona, "GET"))
        if route.post is None:
            continue
        path = route.url(world, persona)
        data = route.data(world, persona)
        before = row_counts()
        refused = world.client(persona, csrf=True).post(path, data)
        if refused.status_code != 403:
            mismatches.append(f"POST {path} without CSRF as {persona}: {refused.status_code}")
        if row_counts() != before:
            mismatches.append(f"POST {path} without CSRF as {persona} wrote rows ({name})")
        path = route.url(world, persona)
        response = world.client(persona).post(path, route.data(world, persona))
        mismatches.append(_check(world, response, route.post[index], path, persona, "POST"))
    failures = [m for m in mismatches if m]
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_routes_per_persona(world: World, persona: str) -> None:
    """Anonymous (no token) gets 401 on every authenticated endpoint; tokens get the design."""
    index = PERSONAS.index(persona)
    failures = []
    for entry in API_ROUTES:
        headers = {}
        if persona != "anonymous":
            headers["Authorization"] = f"Bearer {world.api_token(persona)}"
        client = Client(raise_request_exception=False)
        path = entry.path(world)
        if entry.method == "GET":
            response = client.get(path, headers=headers)
        else:
            response = client.generic(
                entry.method,
                path,
                json.dumps(entry.body(world)),
                content_type="application/json",
                headers=headers,
            )
        check_response(response, payloads=[])
        if response.status_code != entry.expect[index]:
            failures.append(
                f"{entry.method} {entry.route} as {persona}: {response.status_code}, "
                f"expected {entry.expect[index]}"
            )
    assert failures == [], "\n".join(failures)


def test_api_ignores_the_browser_session(world: World) -> None:
    """A signed-in browser without a token is anonymous to the API (so CSRF cannot ride on it)."""
    client = world.client("member")
    assert client.get("/api/v1/me").status_code == 401
    response = client.post(
        f"/api/v1/apps/{world.app_name}/credentials",
        {"role_arn": world.role_arn},
        content_type="application/json",
    )
    assert response.status_code == 401


def _concrete_admin_path(route: str) -> str:
    path = "/" + route
    path = re.sub(r"<path:content_type_id>", "1", path)
    path = re.sub(r"<(path:object_id|id)>", "1", path)
    path = path.replace("<str:phase>", "init")
    path = path.replace("^(?P<app_label>auth|", "").split("|")[0]
    if "(?P<app_label>" in route:
        path = "/admin/audit/"
    if "(?P<url>" in route:
        path = "/admin/no-such-page/"
    return path


def test_every_admin_route_refuses_anonymous_and_non_staff(world: World) -> None:
    """Each admin route sends anonymous and signed-in non-staff callers to the admin login."""
    failures = []
    routes = [route for namespace, route in _routes() if namespace == "admin"]
    assert len(routes) > 40
    for route in routes:
        if route in ADMIN_PUBLIC:
            continue
        path = _concrete_admin_path(route)
        for persona in ("anonymous", "member", "reviewer"):
            response = world.client(persona).get(path)
            location = response.get("Location", "")
            if response.status_code != 302 or not location.startswith("/admin/login/?next="):
                failures.append(f"{path} as {persona}: {response.status_code} {location}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("path", STAFF_ADMIN_SAMPLE)
def test_admin_sample_for_staff(world: World, path: str) -> None:
    """Staff reach the admin's changelists through model permissions, and only through them."""
    from django.contrib.auth.models import Permission

    staff = world.users["bare_staff"]
    staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    response = world.client("bare_staff").get(path)
    assert response.status_code == 200, path
    # Staff without the view permission get the admin's own refusal, not the data.
    staff.user_permissions.clear()
    if path != "/admin/":
        assert world.client("bare_staff").get(path).status_code == 403, path


def test_admin_posts_need_csrf(world: World) -> None:
    """The admin's forms are CSRF protected like the rest of the site."""
    from django.contrib.auth.models import Permission

    staff = world.users["staff"]
    staff.user_permissions.set(Permission.objects.all())
    before = row_counts()
    response = world.client("staff", csrf=True).post(
        "/admin/access/role/add/", {"name": "via-admin", "spec": "{}"}
    )
    assert response.status_code == 403
    assert row_counts() == before
