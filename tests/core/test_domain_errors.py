"""The domain error family and its one mapping per surface (issue 19, item 3).

Every `DomainError` subclass in `apps/` is listed below with its code, status, whether it is
retryable and the CLI exit code its API answer becomes. The test walks the real classes (a new
error must be added here) and sends each through the real mappers: the API's ninja exception
handler, the web and htmx helper, the management-command wrapper and the CLI's table.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.utils.html import escape

import apps
from apps.core.errors import DomainError, command_errors, domain_error_classes, web_error_response
from rolegate.client import error_for
from rolegate.errors import ExitCode


def _import_every_app_module() -> None:
    for module in pkgutil.walk_packages(apps.__path__, "apps."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)


_import_every_app_module()

from apps.access.errors import AccessDenied  # noqa: E402
from apps.api.scoped_auth import ScopeRefused  # noqa: E402
from apps.api.services import DeviceFlowError  # noqa: E402
from apps.core.ratelimit import RateLimited  # noqa: E402
from apps.integrations.errors import SyncDisabled  # noqa: E402
from apps.resources.errors import AppNotFound, IssuanceError  # noqa: E402

# name: (how to make one, code, HTTP status, retryable, CLI exit code)
Row = tuple[Callable[[], DomainError], str, int, bool, ExitCode]


def _plain(path: str) -> Callable[[], DomainError]:
    def make() -> DomainError:
        module, _, name = path.rpartition(".")
        cls: type[DomainError] = getattr(importlib.import_module(module), name)
        return cls("Something was refused.")

    return make


TABLE: dict[str, Row] = {
    "apps.access.errors.AccessDenied": (
        lambda: AccessDenied(),
        "access_denied",
        403,
        False,
        ExitCode.DENIED,
    ),
    "apps.access.requests.services.RequestInvalid": (
        _plain("apps.access.requests.services.RequestInvalid"),
        "invalid_request",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.access.requests.services.RequestNotFound": (
        _plain("apps.access.requests.services.RequestNotFound"),
        "request_not_found",
        404,
        False,
        ExitCode.NOT_FOUND,
    ),
    "apps.access.requests.services.RequestNotPending": (
        _plain("apps.access.requests.services.RequestNotPending"),
        "request_closed",
        409,
        False,
        ExitCode.SERVER,
    ),
    "apps.access.services.RoleConflict": (
        _plain("apps.access.services.RoleConflict"),
        "conflict",
        409,
        False,
        ExitCode.SERVER,
    ),
    "apps.access.services.RoleExists": (
        _plain("apps.access.services.RoleExists"),
        "already_exists",
        409,
        False,
        ExitCode.SERVER,
    ),
    "apps.access.services.RoleInUse": (
        _plain("apps.access.services.RoleInUse"),
        "role_in_use",
        409,
        False,
        ExitCode.SERVER,
    ),
    "apps.access.services.RoleNotFound": (
        _plain("apps.access.services.RoleNotFound"),
        "not_found",
        404,
        False,
        ExitCode.NOT_FOUND,
    ),
    "apps.access.user_admin.UserChangeInvalid": (
        _plain("apps.access.user_admin.UserChangeInvalid"),
        "invalid",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.api.automation.TokenInvalid": (
        _plain("apps.api.automation.TokenInvalid"),
        "invalid",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.api.pagination.CursorInvalid": (
        _plain("apps.api.pagination.CursorInvalid"),
        "invalid_cursor",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.api.scoped_auth.ScopeRefused": (
        lambda: ScopeRefused("This token lacks roles:write.", "missing_scope"),
        "missing_scope",
        403,
        False,
        ExitCode.DENIED,
    ),
    "apps.api.services.DeviceFlowError": (
        lambda: DeviceFlowError("slow_down", "Polling too fast."),
        "slow_down",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.api.services.DeviceCodeNotFound": (
        _plain("apps.api.services.DeviceCodeNotFound"),
        "device_code_not_found",
        404,
        False,
        ExitCode.NOT_FOUND,
    ),
    "apps.audit.selectors.StreamCursorInvalid": (
        _plain("apps.audit.selectors.StreamCursorInvalid"),
        "invalid_cursor",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.authority.services.authorities.RotationError": (
        _plain("apps.authority.services.authorities.RotationError"),
        "rotation_conflict",
        409,
        False,
        ExitCode.SERVER,
    ),
    "apps.core.errors.DomainError": (
        _plain("apps.core.errors.DomainError"),
        "error",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.core.ratelimit.RateLimited": (
        lambda: RateLimited("Too many requests.", retry_after=7),
        "rate_limited",
        429,
        True,
        ExitCode.DENIED,
    ),
    "apps.core.registry.ResourceError": (
        _plain("apps.core.registry.ResourceError"),
        "invalid",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.core.registry.ResourceExists": (
        _plain("apps.core.registry.ResourceExists"),
        "already_exists",
        409,
        False,
        ExitCode.SERVER,
    ),
    "apps.core.registry.ResourceNotFound": (
        _plain("apps.core.registry.ResourceNotFound"),
        "not_found",
        404,
        False,
        ExitCode.NOT_FOUND,
    ),
    "apps.integrations.errors.SyncDisabled": (
        lambda: SyncDisabled("prod"),
        "sync_refused",
        409,
        False,
        ExitCode.SERVER,
    ),
    "apps.resources.errors.AppNotFound": (
        lambda: AppNotFound("prod"),
        "app_not_found",
        404,
        False,
        ExitCode.NOT_FOUND,
    ),
    "apps.resources.errors.AuditUnavailable": (
        _plain("apps.resources.errors.AuditUnavailable"),
        "audit_unavailable",
        503,
        True,
        ExitCode.SERVER,
    ),
    "apps.resources.errors.IssuanceError": (
        lambda: IssuanceError("The username is too long for a certificate."),
        "issuance_refused",
        422,
        False,
        ExitCode.DENIED,
    ),
    "apps.resources.errors.LaunchError": (
        _plain("apps.resources.errors.LaunchError"),
        "launch_failed",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.resources.errors.LaunchInputError": (
        _plain("apps.resources.errors.LaunchInputError"),
        "invalid_launch",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.resources.naming.AppNameError": (
        _plain("apps.resources.naming.AppNameError"),
        "invalid_app_name",
        400,
        False,
        ExitCode.USAGE,
    ),
    "apps.webhooks.services.WebhookInvalid": (
        _plain("apps.webhooks.services.WebhookInvalid"),
        "invalid",
        400,
        False,
        ExitCode.USAGE,
    ),
}

# Instances that refine their class's mapping: the one IssuanceError rule (retryable → 503,
# refused by AWS → 502, anything else → 422).
VARIANTS: dict[str, Row] = {
    "IssuanceError, AWS refused": (
        lambda: IssuanceError("AWS refused (AccessDeniedException)", aws_code="Access"),
        "aws_error",
        502,
        False,
        ExitCode.AWS,
    ),
    "IssuanceError, AWS busy": (
        lambda: IssuanceError("AWS was busy", aws_code="ThrottlingException", retryable=True),
        "aws_unavailable",
        503,
        True,
        ExitCode.AWS,
    ),
    "IssuanceError, no answer in time": (
        lambda: IssuanceError("AWS did not answer in time", retryable=True),
        "aws_unavailable",
        503,
        True,
        ExitCode.AWS,
    ),
}

ROWS = {**TABLE, **VARIANTS}


def _name(cls: type[DomainError]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_the_table_lists_every_domain_error() -> None:
    assert sorted(_name(cls) for cls in domain_error_classes()) == sorted(TABLE)


def test_every_domain_error_has_a_code_and_a_status() -> None:
    for cls in domain_error_classes():
        assert cls.code and cls.code.isascii() and " " not in cls.code, _name(cls)
        assert 400 <= cls.status <= 599, _name(cls)


def _web_request(*, htmx: bool = False) -> Any:
    request = RequestFactory().post("/somewhere")
    request.user = AnonymousUser()
    request.htmx = htmx  # what django-htmx's middleware sets
    return request


@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_error_maps_the_same_on_every_surface(row: str) -> None:
    from apps.api.api import api

    make, code, status, retryable, exit_code = ROWS[row]
    error = make()
    assert (error.code, error.status, error.retryable) == (code, status, retryable)

    # API: the ninja exception handler the API really dispatches to.
    answer = api.on_exception(RequestFactory().post("/api/v1/x"), error)
    body = json.loads(answer.content)
    assert answer.status_code == status
    assert body == {"detail": error.message, "code": code}

    # Web page and htmx fragment: the same status as the API, and the message shown.
    page = web_error_response(_web_request(), error)
    page.render()  # type: ignore[attr-defined]
    fragment = web_error_response(_web_request(htmx=True), error)
    fragment.render()  # type: ignore[attr-defined]
    assert page.status_code == fragment.status_code == answer.status_code
    assert escape(error.message) in page.content.decode()
    assert f'data-error-code="{code}"' in fragment.content.decode()
    for header, value in error.headers().items():
        assert answer[header] == page[header] == fragment[header] == value

    # Management commands: a CommandError with the message.
    with pytest.raises(CommandError) as raised, command_errors(" (nothing was written)"):
        raise error
    assert str(raised.value) == f"{error.message} (nothing was written)"

    # CLI: the API's answer becomes this exit code.
    assert error_for(answer.status_code, body, "https://rolegate.test").code is exit_code


def test_rate_limits_carry_retry_after_everywhere() -> None:
    from apps.api.api import api

    error = RateLimited("Too many requests.", retry_after=42)
    assert api.on_exception(RequestFactory().get("/"), error)["Retry-After"] == "42"
    assert web_error_response(_web_request(), error)["Retry-After"] == "42"
