"""SigV4 (HMAC) authentication and IAM authorization of control-plane calls, through moto.

moto already knows every access key and policy of the sandbox account, and how to check a
SigV4 signature; reusing its `IAMRequest` keeps one notion of "who is calling" across IAM,
STS, S3 and Roles Anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import (
    AccessDeniedError,
    InvalidClientTokenIdError,
    SignatureDoesNotMatchError,
)
from moto.iam.access_control import IAMRequest

from .errors import ApiError, access_denied
from .moto_backend import ACCOUNT_ID


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of a control-plane request."""

    arn: str
    region: str
    operation: str
    _request: Any

    def require(self, resource_arn: str) -> None:
        """Refuse with AccessDeniedException unless IAM allows the operation on the resource."""
        try:
            self._request.check_action_permitted(resource_arn)
        except AccessDeniedError:
            raise access_denied(
                f"User: {self.arn} is not authorized to perform: "
                f"rolesanywhere:{self.operation} on resource: {resource_arn}"
            ) from None


def credential_scope(authorization: str) -> tuple[str, str, str] | None:
    """Return (access key or serial, region, service) from a SigV4 Authorization header."""
    try:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
        key, _date, region, service, _terminator = credential.split("/")
    except (IndexError, ValueError):
        return None
    return key, region, service


def authenticate_control_plane_call(
    *,
    method: str,
    raw_path: str,
    body: bytes,
    headers: Mapping[str, str],
    operation: str,
) -> Caller:
    """Check the caller's SigV4 signature against moto's IAM keys; return who is calling."""
    authorization = headers.get("Authorization")
    if not authorization:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or "X-Amz-Date" not in headers:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires AWS4-HMAC-SHA256 with Credential, SignedHeaders, "
            "Signature and an X-Amz-Date header.",
            403,
        )
    scope = credential_scope(authorization)
    if scope is None:
        raise ApiError("IncompleteSignatureException", "Malformed Credential in Authorization", 403)
    request: Any
    try:
        request = IAMRequest(
            account_id=ACCOUNT_ID,
            method=method,
            path=raw_path,
            data={},
            body=body,
            headers=headers,  # type: ignore[arg-type]
            action=operation,
        )
        request.check_signature()
    except InvalidClientTokenIdError:
        raise ApiError(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            403,
        ) from None
    except SignatureDoesNotMatchError:
        raise ApiError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
            403,
        ) from None
    return Caller(
        arn=str(request._access_key.arn), region=scope[1], operation=operation, _request=request
    )
