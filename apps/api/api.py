"""The JSON API used by the `rolegate` CLI, mounted at /api/v1 (OpenAPI at /api/v1/openapi.json).

Endpoints are thin: validate the body (ninja + pydantic), call one selector or service, map the
service's typed errors to HTTP statuses. Credentials come from the one issuance function that
Launch also uses, so RBAC, audit and fail-closed behaviour are the same for both.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import Field

from apps.access.selectors import user_role_names
from apps.accounts import services as account_services
from apps.accounts import signin
from apps.accounts.models import User
from apps.api import selectors, services
from apps.api.http import Answer, ApiHttpRequest, JsonObject, NoContent
from apps.api.models import ApiToken
from apps.core.errors import DomainError

logger = logging.getLogger(__name__)

# Namespace name kept as django-ninja's default, which tests/core/test_policies.py exempts from
# the per-view policy decorator check (ninja declares auth per operation instead).
URLS_NAMESPACE = "api-1.0.0"


class BearerToken(HttpBearer):
    """Authenticate `Authorization: Bearer rgt_…` against hashed, unexpired, unrevoked tokens."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        """Return the token's user (and remember the token on the request), or None."""
        found = selectors.token_authenticate(token.strip())
        if found is None:
            return None
        services.token_touch(token=found)
        cast(ApiHttpRequest, request).api_token = found
        return found.user


api = NinjaAPI(
    title="Rolegate API",
    version="1.0.0",
    description=(
        "Used by the rolegate CLI (sign-in, the user's apps, AWS credentials) and by automation "
        "with scoped tokens (roles, users, integrations, access reviews, audit events). Lists "
        "take ?limit=&cursor= and answer {items, next_cursor}; errors are {detail, code}."
    ),
    urls_namespace=URLS_NAMESPACE,
    auth=BearerToken(),
)


def _caller(request: HttpRequest) -> User:
    """The user that BearerToken authenticated."""
    return cast(ApiHttpRequest, request).auth


def _caller_token(request: HttpRequest) -> ApiToken:
    """The token that BearerToken authenticated."""
    return cast(ApiHttpRequest, request).api_token


# --- error shapes ------------------------------------------------------------------------------


class ErrorOut(Schema):
    """Every error: one human-readable line, and a stable machine code."""

    detail: str
    code: str


def _error(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "code": code}, status=status)


def _describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
        message = str(error.get("msg", "invalid value"))
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"


def domain_error_response(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The API's one mapping of a DomainError: its status, ``{detail, code}`` and headers."""
    response = api.create_response(request, error.body(), status=error.status)
    for header, value in error.headers().items():
        response[header] = value
    return response


@api.exception_handler(DomainError)
def _on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return domain_error_response(request, exc)


@api.exception_handler(NinjaValidationError)
def _on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    response = api.create_response(
        request,
        {
            "detail": "Invalid request: " + _describe_validation(list(exc.errors)),
            "code": "invalid_request",
            "errors": exc.errors,
        },
        status=422,
    )
    return response


@api.exception_handler(AuthenticationError)
def _on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request,
        401,
        "not_authenticated",
        "Missing, expired or revoked token: run rolegate login.",
    )


@api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 429: "throttled"}
    return _error(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Http404)
def _on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(Exception)
def _on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Whatever DEBUG says: a JSON error for the client, the traceback only in the log.
    if isinstance(exc, RequestDataTooBig):
        return _error(request, 413, "request_too_large", "The request body is too large.")
    logger.exception("unhandled error serving %s", request.path)
    return _error(
        request, 500, "server_error", "Rolegate failed to answer this request; try again."
    )


@api.exception_handler(DatabaseError)
def _on_database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    logger.exception("database unavailable while serving %s", request.path)
    return _error(request, 503, "unavailable", "Rolegate cannot reach its database; try again.")


# --- authentication ----------------------------------------------------------------------------


class TokenOut(Schema):
    """A new bearer token: shown once, never retrievable again."""

    token: str
    expires_at: datetime
    username: str


class PasswordLoginIn(Schema):
    """Local username and password, and a label for the token (host name of the CLI)."""

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=4096)
    client_name: str = Field(default="", max_length=200)


class DeviceStartIn(Schema):
    """What the CLI tells about itself, shown on the approval page."""

    client_name: str = Field(default="", max_length=200)


class DeviceStartOut(Schema):
    """RFC 8628 device authorization response."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceTokenIn(Schema):
    """The device code being polled."""

    device_code: str = Field(min_length=1, max_length=200)


def _issued(issued: services.IssuedToken) -> JsonObject:
    return {
        "token": issued.plaintext,
        "expires_at": issued.token.expires_at,
        "username": issued.token.user.get_username(),
    }


@api.post(
    "/auth/password",
    auth=None,
    response={200: TokenOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut},
    summary="Sign in with a local username and password",
)
def password_login(request: HttpRequest, payload: PasswordLoginIn) -> Answer | HttpResponse:
    """Exchange a local password for a bearer token (throttled like the web sign-in)."""
    if not getattr(settings, "ROLEGATE_PASSWORD_LOGIN", True):
        return Status(
            403,
            {
                "detail": "Password sign-in is disabled here; use rolegate login --sso.",
                "code": "password_login_disabled",
            },
        )
    # The backend throttles and the sign-in receivers audit (apps/accounts/signin.py).
    signin.set_method(request, "cli-password")
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None and signin.was_throttled(request):
        response = _error(
            request, 429, "throttled", "Too many failed sign-ins. Wait 15 minutes and try again."
        )
        response["Retry-After"] = str(account_services.LOGIN_FAILURE_WINDOW)
        return response
    if user is None:
        return Status(401, {"detail": "Wrong username or password.", "code": "bad_credentials"})
    signin.sign_in_completed(user=user, method="cli-password")
    issued = services.token_create(
        actor=user, user=user, method=ApiToken.Method.PASSWORD, client_name=payload.client_name
    )
    return Status(200, _issued(issued))


@api.post(
    "/auth/device",
    auth=None,
    response={200: DeviceStartOut, 429: ErrorOut},
    summary="Start a device login (approve it in the browser)",
)
def device_start(request: HttpRequest, payload: DeviceStartIn) -> JsonObject:
    """Open a device request; the user approves the returned code at /cli/approve."""
    services.device_authorization_rate_check()  # RateLimited: a 429 (_on_domain_error)
    started = services.device_authorization_start(client_name=payload.client_name)
    authorization = started.authorization
    base = request.build_absolute_uri("/cli/approve")
    return {
        "device_code": started.device_code,
        "user_code": authorization.user_code,
        "verification_uri": base,
        "verification_uri_complete": f"{base}?code={authorization.user_code}",
        "expires_in": int((authorization.expires_at - authorization.created_at).total_seconds()),
        "interval": authorization.interval,
    }


@api.post(
    "/auth/device/token",
    auth=None,
    response={200: TokenOut, 400: ErrorOut},
    summary="Poll a device login; returns the token once approved",
)
def device_token(request: HttpRequest, payload: DeviceTokenIn) -> Answer:
    """Answer `authorization_pending`/`slow_down` until approved, then the token (once)."""
    # DeviceFlowError (authorization_pending, slow_down …): a 400 (_on_domain_error).
    issued = services.device_authorization_exchange(device_code=payload.device_code)
    return Status(200, _issued(issued))


@api.post("/auth/logout", response={204: None}, summary="Revoke the token used for this call")
def logout(request: HttpRequest) -> NoContent:
    """Revoke the caller's own token."""
    services.token_revoke(actor=_caller(request), token=_caller_token(request))
    return Status(204, None)


# --- the user and their apps -------------------------------------------------------------------


class GrantOut(Schema):
    """One role granted by an approved access request, until `ends_at`."""

    request_id: str
    role: str
    ends_at: datetime


class MeOut(Schema):
    """Who the token belongs to (like `tsh status`)."""

    username: str
    roles: list[str]
    traits: dict[str, list[str]]
    is_staff: bool
    token_expires_at: datetime
    # Roles held through approved access requests, with when each grant ends (issue 18).
    grants: list[GrantOut] = []


def _traits(user: User) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for source in (user.traits or {}, user.external_traits or {}):
        for key, values in source.items():
            items = values if isinstance(values, list) else [values]
            merged.setdefault(str(key), [])
            merged[str(key)] += [str(v) for v in items if str(v) not in merged[str(key)]]
    return merged


@api.get("/me", response=MeOut, summary="The signed-in user, roles, traits and token expiry")
def me(request: HttpRequest) -> JsonObject:
    """Return the user behind the token."""
    user = _caller(request)
    return {
        "username": user.get_username(),
        # Assigned roles plus those granted for now by approved access requests.
        "roles": user_role_names(user),
        "traits": _traits(user),
        "is_staff": bool(user.is_staff),
        "token_expires_at": _caller_token(request).expires_at,
        "grants": _grants(user),
    }


def _grants(user: User) -> list[JsonObject]:
    from apps.access.requests.models import AccessGrant

    rows = AccessGrant.objects.filter(
        user_id=user.pk, ended_at__isnull=True, ends_at__gt=timezone.now()
    ).order_by("ends_at")
    return [
        {"request_id": str(row.request_id), "role": row.role_name, "ends_at": row.ends_at}
        for row in rows
    ]


class AppOut(Schema):
    """An AWS app the user may use, with the IAM roles they may assume there."""

    name: str
    account_id: str
    integration: str
    region: str
    profile_arn: str
    labels: dict[str, str]
    aws_role_arns: list[str]
    # Set when the app is reachable only through access-request grants: when that ends.
    grant_ends_at: datetime | None = None


class AppPageOut(Schema):
    """One page of the user's apps, in name order; pass `next_cursor` back for the next page."""

    items: list[AppOut]
    next_cursor: str | None


APPS_PAGE_DEFAULT = 500
APPS_PAGE_MAX = 1000


def _cursor_encode(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii").rstrip("=")


def _cursor_decode(cursor: str) -> str | None:
    if len(cursor) > 400:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        name = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    # Only what this API handed out: the canonical encoding of a name.
    return name if _cursor_encode(name) == cursor else None


@api.get(
    "/apps",
    response={200: AppPageOut, 400: ErrorOut},
    summary="AWS apps the user can access (paginated: limit, cursor, q)",
)
def apps_list(
    request: HttpRequest,
    limit: int = APPS_PAGE_DEFAULT,
    cursor: str = "",
    q: str = "",
) -> Answer:
    """List the accessible apps in name order, each with the role ARNs this user may assume.

    `limit` (1-1000, default 500) apps per page; `next_cursor` is null on the last page. `q`
    keeps the apps matching every word (name, account, profile, role ARNs, labels), as the
    Resources page's search does. The set is computed once per catalog version and access, so
    a page costs the same at 1,000 apps or 100,000.
    """
    from apps.access.access_end import grant_only_ends
    from apps.resources.queries import reachable_apps, reachable_matching

    if not 1 <= limit <= APPS_PAGE_MAX:
        return Status(
            400,
            {"detail": f"limit must be between 1 and {APPS_PAGE_MAX}.", "code": "bad_request"},
        )
    if len(q) > 500:
        return Status(400, {"detail": "q is longer than 500 characters.", "code": "bad_request"})
    after = _cursor_decode(cursor) if cursor else None
    if cursor and after is None:
        return Status(400, {"detail": "cursor is not one this API returned.", "code": "bad_cursor"})
    user = _caller(request)
    reachable = reachable_apps(user)
    terms = [term.casefold() for term in q.split()]
    matching = reachable_matching(reachable, terms, ())
    start = 0
    if after is not None:
        # Positions are in name order: the first position whose name sorts after the cursor.
        names = reachable.rows
        low, high = 0, len(matching)
        while low < high:
            middle = (low + high) // 2
            if names[matching[middle]][0].name <= after:
                low = middle + 1
            else:
                high = middle
        start = low
    page = [reachable.rows[p] for p in matching[start : start + limit]]
    grant_ends = grant_only_ends(user, [(app.facts, arns) for app, arns in page])
    more = start + limit < len(matching)
    return Status(
        200,
        {
            "items": [
                {
                    "name": app.name,
                    "account_id": app.account_id,
                    "integration": app.integration_name,
                    "region": app.region,
                    "profile_arn": app.profile_arn,
                    "labels": dict(app.labels),
                    "aws_role_arns": list(arns),
                    "grant_ends_at": grant_ends.get(app.name),
                }
                for app, arns in page
            ],
            "next_cursor": _cursor_encode(page[-1][0].name) if more and page else None,
        },
    )


class CredentialsIn(Schema):
    """Which IAM role to assume and, optionally, for how long (AWS allows 900 to 43200 s)."""

    role_arn: str = Field(min_length=20, max_length=2048)
    duration_seconds: int | None = Field(default=None, ge=900, le=43200)


class CredentialsOut(Schema):
    """The AWS CLI credential_process document (Version 1), ready to print."""

    Version: int
    AccessKeyId: str
    SecretAccessKey: str
    SessionToken: str
    Expiration: str


@api.post(
    "/apps/{name}/credentials",
    response={
        200: CredentialsOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
        502: ErrorOut,
        503: ErrorOut,
    },
    summary="Issue AWS credentials for an app and role (same path as console Launch)",
)
def app_credentials(request: HttpRequest, name: str, payload: CredentialsIn) -> Answer:
    """Issue credentials through the one issuance function (RBAC, audit, fail-closed)."""
    from apps.resources.services import aws_credentials_issue
    from awsra.credential_process import format_expiration

    # Errors (DomainError: app not found, access denied, rate limited, audit, issuance) are
    # answered by _on_domain_error, with the same status as on the web.
    credentials = aws_credentials_issue(
        actor=_caller(request),
        app_name=name,
        role_arn=payload.role_arn,
        duration_seconds=payload.duration_seconds,
        purpose="cli",
        # The CLI login bounds the credentials it fetches (issue 18).
        login_expires_at=_caller_token(request).expires_at,
    )
    return Status(
        200,
        {
            "Version": 1,
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "Expiration": format_expiration(credentials.expiration),
        },
    )


class ConsoleIn(Schema):
    """Which IAM role to sign in to the AWS console as, and optionally where to land."""

    role_arn: str = Field(min_length=20, max_length=2048)
    region: str | None = Field(default=None, max_length=64)
    destination: str | None = Field(default=None, max_length=2048)


class ConsoleOut(Schema):
    """The federation sign-in URL (holds a sign-in token: open it, do not log it)."""

    url: str
    role_arn: str
    region: str
    expiration: str


@api.post(
    "/apps/{name}/console",
    response={
        200: ConsoleOut,
        400: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        429: ErrorOut,
        502: ErrorOut,
        503: ErrorOut,
    },
    summary="AWS console sign-in URL for an app and role (the Launch button's path)",
)
def app_console(request: HttpRequest, name: str, payload: ConsoleIn) -> HttpResponse:
    """`rolegate console`: the web launch path itself (RBAC, destination rules, audit with
    purpose console), answered as JSON instead of a redirect."""
    from apps.resources.services import console_launch

    # Errors are DomainErrors, answered by _on_domain_error (the same statuses as Launch).
    launch = console_launch(
        actor=_caller(request),
        app_name=name,
        role_arn=payload.role_arn,
        region=payload.region or None,
        destination=payload.destination or None,
        # The console session ends with the CLI login, as credentials do.
        login_expires_at=_caller_token(request).expires_at,
    )
    response = api.create_response(
        request,
        {
            "url": launch.url,
            "role_arn": launch.role_arn,
            "region": launch.region,
            "expiration": launch.expiration,
        },
        status=200,
    )
    response["Cache-Control"] = "no-store"
    return response


api.add_router("/requests", "apps.api.requests_api.router")  # access requests (issue 11)
api.add_router("", "apps.api.admin_api.router")  # the admin API (issue 25)
