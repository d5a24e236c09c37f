"""The sandbox's single WSGI application: one URL for moto, Roles Anywhere and sign-in.

Dispatch, in order: `/_sandbox/*` (admin), `/federation` (console sign-in), `POST /sessions`
signed with AWS4-X509-* (CreateSession), requests whose SigV4 scope names `rolesanywhere`
or unsigned requests to a control-plane path (control plane), everything else to moto.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.wrappers import Request, Response

from . import controlplane, federation, model, permissions, sessions
from .auth import authenticate_control_plane_call, credential_scope
from .controlplane import CallContext
from .errors import ApiError
from .faults import Fault, Operation
from .moto_backend import ACCOUNT_ID, PARTITION, sts
from .parts import SandboxParts

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def json_response(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """A JSON response with the given status."""
    response = Response(json.dumps(payload), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def rest_json_error(error: ApiError) -> Response:
    """An AWS restJson1 error: `X-Amzn-ErrorType` plus `{"message": ...}`."""
    return json_response(
        error.status,
        {"message": error.message, "__type": error.code},
        {"X-Amzn-ErrorType": error.code},
    )


def _query_xml_error(code: str, message: str, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>sandbox</RequestId></ErrorResponse>"
    )
    return Response(body, status=status, content_type="text/xml")


def _s3_xml_error(code: str, message: str, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>sandbox</RequestId></Error>"
    )
    return Response(body, status=status, content_type="application/xml")


def fault_response(fault: Fault, operation: Operation) -> Response:
    """Render an injected fault in the protocol of the service that was called."""
    if fault.kind == "throttle":
        code, message, status = "ThrottlingException", "Rate exceeded", 429
        if operation.service in ("iam", "sts"):
            code, status = "Throttling", 400
        elif operation.service == "s3":
            code, message, status = "SlowDown", "Please reduce your request rate.", 503
    elif fault.kind == "timeout":
        code, message, status = "RequestTimeout", "Injected timeout", 504
    else:
        status = fault.status
        code = "ServiceUnavailableException" if status == 503 else "InternalServerException"
        message = "Injected failure"
        if operation.service in ("iam", "sts"):
            code = "ServiceUnavailable" if status == 503 else "InternalFailure"
        elif operation.service == "s3":
            code = "ServiceUnavailable" if status == 503 else "InternalError"
    if operation.service in ("iam", "sts"):
        return _query_xml_error(code, message, status)
    if operation.service == "s3":
        return _s3_xml_error(code, message, status)
    return rest_json_error(ApiError(code, message, status))


_BLOCKED_PAGE = (
    "<!DOCTYPE html><html><head><title>Access blocked</title></head>"
    "<body><h1>This request was blocked by your network's proxy.</h1></body></html>"
)


def damaged_response(response: Response, mode: str, request_token: str = "") -> Response:
    """A 200 answer as a broken proxy or a cut connection delivers it (see Faults.damage)."""
    body = response.get_data()
    if mode == "html":
        return Response(_BLOCKED_PAGE, status=200, content_type="text/html")
    if mode == "cut":
        return Response(body[: len(body) // 2], status=200, content_type="application/json")
    try:
        payload = json.loads(body)
    except ValueError:
        return response
    if not isinstance(payload, dict):
        return response
    lists = [key for key, value in payload.items() if isinstance(value, list)]
    if mode == "missing_key":
        payload = {k: v for k, v in payload.items() if k not in lists}
    elif mode == "empty":
        payload = {k: ([] if k in lists else v) for k, v in payload.items() if k != "nextToken"}
    elif mode == "drop_next_token":
        payload.pop("nextToken", None)
    elif mode == "repeat_next_token" and request_token:
        payload["nextToken"] = request_token
    return json_response(200, payload)


class SandboxApp:
    """WSGI entry point of the sandbox."""

    def __init__(self, sandbox: SandboxParts) -> None:
        self.sandbox = sandbox
        self.moto = DomainDispatcherApplication(create_backend_app)
        # Identity policies with conditions (the kill switch's Deny) evaluated as IAM does.
        permissions.install()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            with permissions.request_context(self._session_context(environ)):
                # Responses are built eagerly, so the context covers every IAM check.
                body = list(self._dispatch(environ, start_response))
            if environ.get("REQUEST_METHOD", "GET").upper() not in ("GET", "HEAD", "OPTIONS"):
                self.sandbox.state_changed()
            return body
        except Exception:
            # A bug in the sandbox must look like an AWS 500, not a dropped connection.
            logger.exception("sandbox: unhandled error")
            response = rest_json_error(ApiError("InternalServerException", "Internal error", 500))
            return response(environ, start_response)

    def _session_context(self, environ: dict[str, Any]) -> dict[str, str] | None:
        """The condition keys AWS attaches to requests signed with a Roles Anywhere session."""
        if not environ.get("HTTP_X_AMZ_SECURITY_TOKEN"):
            return None
        scope = credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None:
            return None
        with self.sandbox.state.lock:
            context = self.sandbox.state.session_contexts.get(scope[0])
            return dict(context) if context else None

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        scope = credential_scope(authorization) if authorization else None
        service = scope[2] if scope else None

        if path.startswith("/_sandbox/"):
            return self._admin(Request(environ))(environ, start_response)
        if path.rstrip("/").endswith("/federation"):
            request = Request(environ)
            operation = Operation("signin", federation.operation_name(request))
            return self._with_faults(
                operation, environ, start_response, lambda: self._federation(request)
            )
        if path == "/sessions" and method == "POST" and authorization.startswith("AWS4-X509-"):
            request = Request(environ)
            operation = Operation("rolesanywhere", "CreateSession")
            return self._with_faults(
                operation, environ, start_response, lambda: self._create_session(request)
            )
        if service == "rolesanywhere" or (not authorization and model.is_control_plane_path(path)):
            request = Request(environ)
            found = model.match(method, path)
            if found is None:
                error = ApiError(
                    "UnknownOperationException", f"No operation for {method} {path}", 404
                )
                return rest_json_error(error)(environ, start_response)
            route, path_params = found
            operation = Operation("rolesanywhere", route.operation)
            return self._with_faults(
                operation,
                environ,
                start_response,
                lambda: self._control_plane(
                    request, route.operation, route.status, path_params, operation
                ),
            )
        return self._moto(environ, start_response, service)

    def _with_faults(
        self,
        operation: Operation,
        environ: dict[str, Any],
        start_response: StartResponse,
        handle: Callable[[], Response],
    ) -> Iterable[bytes]:
        fault = self.sandbox.faults.check(operation)
        response = fault_response(fault, operation) if fault else handle()
        if fault is None:
            mode, _ = self.sandbox.faults.after(operation)
            if mode and response.status_code == 200:
                query = parse_qs(str(environ.get("QUERY_STRING", "")))
                response = damaged_response(response, mode, query.get("nextToken", [""])[0])
        return response(environ, start_response)

    # -- moto ----------------------------------------------------------------------------

    def _moto(
        self, environ: dict[str, Any], start_response: StartResponse, service: str | None
    ) -> Iterable[bytes]:
        action = self._query_action(environ)
        operation = Operation(service or "s3", action or environ.get("REQUEST_METHOD", "GET"))
        fault = self.sandbox.faults.check(operation)
        if fault:
            return fault_response(fault, operation)(environ, start_response)
        expired = self._expired_session_token(environ)
        if expired is not None:
            return expired(environ, start_response)
        return self.moto(environ, start_response)  # type: ignore[no-any-return]

    @staticmethod
    def _query_action(environ: dict[str, Any]) -> str | None:
        query: dict[str, list[str]] = parse_qs(str(environ.get("QUERY_STRING", "")))
        if "Action" in query:
            return query["Action"][0]
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length) if length else b""
            # moto reads the body again, so put it back.
            environ["wsgi.input"] = io.BytesIO(body)
            form: dict[str, list[str]] = parse_qs(body.decode("utf-8", "replace"))
            if "Action" in form:
                return form["Action"][0]
        return None

    def _expired_session_token(self, environ: dict[str, Any]) -> Response | None:
        """moto never expires STS credentials; AWS does, and tests skew the clock to see it."""
        token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
        scope = credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
        if not token or scope is None:
            return None
        session = sts().get_assumed_role_from_access_key(scope[0])
        if session is None:
            return None
        expiration = session.expiration
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        if self.sandbox.clock.now() < expiration:
            return None
        message = "The security token included in the request is expired"
        if scope[2] == "s3":
            return _s3_xml_error("ExpiredToken", message, 400)
        if scope[2] == "rolesanywhere":
            return rest_json_error(ApiError("ExpiredTokenException", message, 403))
        return _query_xml_error("ExpiredToken", message, 403)

    # -- Roles Anywhere control plane ----------------------------------------------------

    def _control_plane(
        self,
        request: Request,
        operation: str,
        status: int,
        path_params: dict[str, str],
        fault_operation: Operation,
    ) -> Response:
        try:
            expired = self._expired_session_token(request.environ)
            if expired is not None:
                return expired
            body_bytes = request.get_data(cache=True)
            raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
            if not raw_path:
                raw_path = quote(request.path)
                if request.query_string:
                    raw_path += "?" + request.query_string.decode("latin-1")
            caller = authenticate_control_plane_call(
                method=request.method,
                raw_path=raw_path,
                body=body_bytes,
                headers=request.headers,  # type: ignore[arg-type]
                operation=operation,
            )
            body: dict[str, Any] = {}
            if body_bytes.strip():
                try:
                    parsed = json.loads(body_bytes)
                except ValueError:
                    raise ApiError(
                        "SerializationException", "Request body is not valid JSON", 400
                    ) from None
                if not isinstance(parsed, dict):
                    raise ApiError(
                        "SerializationException", "Request body must be a JSON object", 400
                    )
                body = parsed
            query = parse_qs(
                request.query_string.decode("utf-8", "replace"), keep_blank_values=True
            )
            params = model.parse_input(operation, path_params, query, body)
            ctx = CallContext(
                state=self.sandbox.state,
                clock=self.sandbox.clock,
                region=caller.region,
                account=ACCOUNT_ID,
                partition=PARTITION,
                page_limit=self.sandbox.faults.page_limit(fault_operation),
            )
            caller.require(controlplane.resource_arn_for(ctx, operation, params))
            result = controlplane.dispatch(ctx, operation, params)
        except ApiError as error:
            return rest_json_error(error)
        return json_response(status, result)

    # -- CreateSession and federation ----------------------------------------------------

    def _create_session(self, request: Request) -> Response:
        try:
            status, payload = sessions.create_session(self.sandbox, request)
        except ApiError as error:
            return rest_json_error(error)
        return json_response(status, payload)

    def _federation(self, request: Request) -> Response:
        return federation.handle(self.sandbox, request)

    # -- admin ---------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        """Unauthenticated admin API; the sandbox binds to loopback by default."""
        faults = self.sandbox.faults
        try:
            if request.path == "/_sandbox/health":
                return json_response(200, {"status": "ok"})
            if request.path == "/_sandbox/faults":
                if request.method == "GET":
                    return json_response(200, faults.describe())
                if request.method == "DELETE":
                    faults.clear()
                    return json_response(200, faults.describe())
                if request.method == "POST":
                    self._apply_fault(request.get_json(force=True, silent=True))
                    return json_response(200, faults.describe())
            if request.path == "/_sandbox/sessions" and request.method == "GET":
                with self.sandbox.state.lock:
                    issued = list(self.sandbox.state.issued_sessions)
                return json_response(200, {"sessions": issued})
            if request.path == "/_sandbox/reset" and request.method == "POST":
                self.sandbox.reset()
                return json_response(200, {"status": "reset"})
            if request.path == "/_sandbox/clock":
                if request.method == "POST":
                    data = request.get_json(force=True, silent=True) or {}
                    seconds = data.get("offset_seconds")
                    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                        raise ValueError("offset_seconds must be a number")
                    self.sandbox.clock_offset = timedelta(seconds=seconds)
                return json_response(
                    200,
                    {
                        "offset_seconds": self.sandbox.clock_offset.total_seconds(),
                        "now": self.sandbox.clock.now().isoformat(),
                    },
                )
        except (ValueError, TypeError, KeyError) as error:
            return json_response(400, {"message": f"Bad admin request: {error}"})
        return json_response(404, {"message": f"No admin endpoint {request.method} {request.path}"})

    def _apply_fault(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        faults = self.sandbox.faults
        kind = data.get("type")
        operation = str(data.get("operation", "*"))
        if kind == "throttle":
            faults.throttle(operation, float(data["rate_per_second"]))
        elif kind == "throttle_aws_defaults":
            faults.throttle_aws_defaults()
        elif kind == "fail":
            faults.fail(
                operation, status=int(data.get("status", 500)), count=int(data.get("count", 1))
            )
        elif kind == "timeout":
            faults.timeout(
                operation, count=int(data.get("count", 1)), seconds=float(data.get("seconds", 30))
            )
        elif kind == "truncate_pages":
            faults.truncate_pages(operation, page_size=int(data.get("page_size", 1)))
        elif kind == "latency":
            faults.latency(float(data["seconds"]), operation=operation)
        elif kind == "damage":
            faults.damage(
                operation,
                str(data.get("mode", "")),
                count=int(data.get("count", 1)),
                skip=int(data.get("skip", 0)),
            )
        elif kind == "slow_answer":
            faults.slow_answer(
                operation, seconds=float(data["seconds"]), count=int(data.get("count", 1))
            )
        else:
            raise ValueError(
                "type must be one of throttle, throttle_aws_defaults, fail, timeout, "
                "truncate_pages, latency, damage, slow_answer"
            )
