"""Response hygiene: request body limits, and JSON errors and ``no-store`` for the whole API.

Whatever answers under ``/api/`` (django-ninja, Django's URL resolver for an unknown path, a
middleware refusing a request, a crash), the client gets ``{"detail": ..., "code": ...}`` JSON
and ``Cache-Control: no-store`` (API answers carry credentials and tokens), DEBUG or not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "throttled",
    500: "server_error",
    502: "bad_gateway",
    503: "unavailable",
}
# Headers of the original error worth keeping on its JSON replacement.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID")


def max_body_bytes() -> int:
    """The largest request body accepted (``ROLEGATE_MAX_REQUEST_BYTES``)."""
    return int(getattr(settings, "ROLEGATE_MAX_REQUEST_BYTES", 1024 * 1024))


def is_api(request: HttpRequest) -> bool:
    """True for a request to the JSON API."""
    return request.path_info.startswith(API_PREFIX)


def json_error(status: int, detail: str, code: str = "") -> JsonResponse:
    """An API error in the one shape every API error has."""
    response = JsonResponse({"detail": detail, "code": code or ERROR_CODES.get(status, "error")})
    response.status_code = status
    return response


def _default_detail(request: HttpRequest, response: HttpResponse) -> str:
    status = response.status_code
    if status == 404:
        return f"No API endpoint at {request.path}."
    if status == 405:
        allowed = response.get("Allow", "")
        return f"{request.method} is not allowed here" + (f"; use {allowed}." if allowed else ".")
    if status == 413:
        return f"The request body is larger than {max_body_bytes()} bytes."
    if status >= 500:
        return "Rolegate failed to answer this request; try again, or tell an operator."
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return "The request failed."


def _too_large(request: HttpRequest) -> HttpResponse:
    detail = f"The request body is larger than {max_body_bytes()} bytes."
    if is_api(request):
        return json_error(413, detail)
    return HttpResponse(detail + "\n", status=413, content_type="text/plain; charset=utf-8")


class ResponseHygieneMiddleware:
    """413 for oversized bodies; JSON errors and no-store under /api/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        too_large = length > max_body_bytes()
        response = _too_large(request) if too_large else self.get_response(request)
        if is_api(request):
            response = self._api_response(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Map what a view raised to an error response (JSON for the API)."""
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request)
        if not is_api(request):
            return None
        if isinstance(exception, Http404):
            return json_error(404, f"No API endpoint at {request.path}.")
        if isinstance(exception, PermissionDenied):
            return json_error(403, "You are not allowed to do this.")
        if isinstance(exception, SuspiciousOperation):
            return json_error(400, "The request was refused as malformed.")
        log.error("unhandled error serving %s", request.path, exc_info=exception)
        return json_error(
            500, "Rolegate failed to answer this request; try again, or tell an operator."
        )

    @staticmethod
    def _api_response(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code >= 400:
            body = _json_body(response)
            if not (isinstance(body.get("detail"), str) and isinstance(body.get("code"), str)):
                detail = body.get("detail")
                replacement = json_error(
                    response.status_code,
                    detail if isinstance(detail, str) else _default_detail(request, response),
                )
                for header in _KEPT_HEADERS:
                    if header in response:
                        replacement[header] = response[header]
                response = replacement
        if not request.path_info.endswith(("/docs", "/openapi.json")):
            add_never_cache_headers(response)
            response["Cache-Control"] = "no-store"
        return response


def _json_body(response: HttpResponse) -> dict[str, object]:
    """The JSON object of a non-streaming JSON response, else {}."""
    if getattr(response, "streaming", False):
        return {}
    if not response.get("Content-Type", "").startswith("application/json"):
        return {}
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
