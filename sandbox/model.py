"""botocore's `rolesanywhere` service model: routes and input validation.

Routes and constraints come from the model itself, so boto3 and the AWS CLI work unmodified
and the sandbox rejects what AWS would reject (required members, types, lengths, patterns).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import botocore.session

from .errors import validation


@dataclass(frozen=True)
class Route:
    """One control-plane operation: method, path template and success status."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    status: int


@functools.cache
def service_model() -> Any:
    """botocore's model of the Roles Anywhere control plane."""
    return botocore.session.get_session().get_service_model("rolesanywhere")


@functools.cache
def routes() -> tuple[Route, ...]:
    """Every operation of the model as a route (literal paths before templated ones)."""
    model = service_model()
    found: list[Route] = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = operation.http["requestUri"].split("?")[0]
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(uri))
        found.append(
            Route(
                operation=name,
                method=operation.http["method"],
                pattern=re.compile(regex + r"\Z"),
                status=int(operation.http.get("responseCode", 200)),
            )
        )
    found.sort(key=lambda route: "{" in route.pattern.pattern)
    return tuple(found)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """Find the route for a request, with its decoded path parameters."""
    for route in routes():
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def is_control_plane_path(path: str) -> bool:
    """Whether a path belongs to the Roles Anywhere control plane."""
    return any(route.pattern.match(path) for route in routes())


def parse_input(
    operation: str,
    path_params: dict[str, str],
    query: dict[str, list[str]],
    body: dict[str, Any],
) -> dict[str, Any]:
    """Collect an operation's input from path, query and JSON body, validated against the model."""
    shape = service_model().operation_model(operation).input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    for member_name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", member_name)
        if location == "uri":
            if wire_name in path_params:
                params[member_name] = path_params[wire_name]
        elif location == "querystring":
            if wire_name in query:
                values = query[wire_name]
                if member.type_name == "list":
                    params[member_name] = values
                elif member.type_name == "integer":
                    try:
                        params[member_name] = int(values[0])
                    except ValueError:
                        raise validation(
                            f"Value '{values[0]}' at '{member_name}' failed to satisfy constraint: "
                            "Member must be an integer"
                        ) from None
                else:
                    params[member_name] = values[0]
        elif location is None and member_name in body and body[member_name] is not None:
            params[member_name] = body[member_name]
    _validate_structure(shape, params, "")
    return params


def _validate_structure(shape: Any, value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise validation(f"Value at '{where or 'body'}' must be an object")
    for required in shape.required_members:
        if required not in value:
            raise validation(
                f"1 validation error detected: Value null at '{where + required}' failed to "
                "satisfy constraint: Member must not be null"
            )
    for member_name, member_value in list(value.items()):
        member = shape.members.get(member_name)
        if member is None:
            continue
        value[member_name] = _validate_value(member, member_value, where + member_name)


def _constraint(where: str, value: Any, rule: str) -> Exception:
    shown = str(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return validation(
        f"1 validation error detected: Value '{shown}' at '{where}' failed to satisfy "
        f"constraint: {rule}"
    )


def _validate_value(shape: Any, value: Any, where: str) -> Any:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        _validate_structure(shape, value, where + ".")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise _constraint(where, value, "Member must be a list")
        _check_length(value, meta, where, "length")
        return [
            _validate_value(shape.member, item, f"{where}.{i + 1}") for i, item in enumerate(value)
        ]
    if kind == "map":
        if not isinstance(value, dict):
            raise _constraint(where, value, "Member must be a map")
        return {
            _validate_value(shape.key, k, where): _validate_value(shape.value, v, f"{where}.{k}")
            for k, v in value.items()
        }
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _constraint(where, value, "Member must be a boolean")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _constraint(where, value, "Member must be an integer")
        if "min" in meta and value < meta["min"]:
            raise _constraint(
                where, value, f"Member must have value greater than or equal to {meta['min']}"
            )
        if "max" in meta and value > meta["max"]:
            raise _constraint(
                where, value, f"Member must have value less than or equal to {meta['max']}"
            )
        return value
    if kind == "blob":
        if not isinstance(value, str):
            raise _constraint(where, "<blob>", "Member must be base64-encoded data")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _constraint(where, "<blob>", "Member must be base64-encoded data") from None
        _check_length(data, meta, where, "length")
        return data
    if kind == "string":
        if not isinstance(value, str):
            raise _constraint(where, value, "Member must be a string")
        shown = "*** Sensitive Data Redacted ***" if meta.get("sensitive") else value
        if "min" in meta and len(value) < meta["min"]:
            raise _constraint(
                where, shown, f"Member must have length greater than or equal to {meta['min']}"
            )
        if "max" in meta and len(value) > meta["max"]:
            raise _constraint(
                where, shown, f"Member must have length less than or equal to {meta['max']}"
            )
        if shape.enum and value not in shape.enum:
            raise _constraint(where, value, f"Member must satisfy enum value set: {shape.enum}")
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise _constraint(
                where, shown, f"Member must satisfy regular expression pattern: {pattern}"
            )
        return value
    return value


def _check_length(value: Any, meta: dict[str, Any], where: str, what: str) -> None:
    if "min" in meta and len(value) < meta["min"]:
        raise _constraint(
            where, value, f"Member must have {what} greater than or equal to {meta['min']}"
        )
    if "max" in meta and len(value) > meta["max"]:
        raise _constraint(
            where, value, f"Member must have {what} less than or equal to {meta['max']}"
        )
