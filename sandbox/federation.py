"""Console sign-in: `/federation?Action=getSigninToken` and `Action=login` (a tiny console page)."""

from __future__ import annotations

import html
import json
import secrets
from datetime import UTC, timedelta
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from .moto_backend import sts
from .parts import SandboxParts
from .signin_tokens import SigninGrant

TOKEN_LIFETIME = timedelta(minutes=15)
MIN_SESSION_DURATION = 900
MAX_SESSION_DURATION = 43200


def operation_name(request: Request) -> str:
    """`GetSigninToken`, `Login` or `Federation` (for fault matching)."""
    action = (request.values.get("Action") or "").lower()
    return {"getsignintoken": "GetSigninToken", "login": "Login"}.get(action, "Federation")


def _error(status: int, message: str) -> Response:
    # AWS answers sign-in errors with a short plain-text body.
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def _get_signin_token(sandbox: SandboxParts, request: Request) -> Response:
    raw_session = request.values.get("Session")
    if not raw_session:
        return _error(400, "Missing Session parameter")
    try:
        session = json.loads(raw_session)
    except ValueError:
        return _error(400, "Invalid Session parameter: not JSON")
    if not isinstance(session, dict) or not all(
        isinstance(session.get(key), str) for key in ("sessionId", "sessionKey", "sessionToken")
    ):
        return _error(
            400, "Invalid Session parameter: sessionId, sessionKey, sessionToken required"
        )
    duration: int | None = None
    raw_duration = request.values.get("SessionDuration")
    if raw_duration is not None:
        if not raw_duration.isascii() or not raw_duration.isdigit():
            return _error(400, "Invalid SessionDuration")
        duration = int(raw_duration)
        if not MIN_SESSION_DURATION <= duration <= MAX_SESSION_DURATION:
            return _error(400, "SessionDuration must be between 900 and 43200 seconds")
    assumed = sts().get_assumed_role_from_access_key(session["sessionId"])
    now = sandbox.clock.now()
    if (
        assumed is None
        or not secrets.compare_digest(assumed.secret_access_key, session["sessionKey"])
        or not secrets.compare_digest(assumed.session_token, session["sessionToken"])
    ):
        return _error(400, "Invalid Credentials Parameter")
    expiration = assumed.expiration
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    if expiration <= now:
        return _error(400, "Invalid Credentials Parameter: the credentials have expired")
    grant = SigninGrant(
        assumed_role_arn=assumed.arn,
        account_id=assumed.account_id,
        expires_at=now + TOKEN_LIFETIME,
        session_duration=duration,
    )
    token = sandbox.signin_tokens.issue(grant)
    return Response(json.dumps({"SigninToken": token}), content_type="application/json")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AWS console (sandbox)</title>
<style>body{{font-family:sans-serif;margin:2rem;background:#f2f3f3}}
main{{background:#fff;border-top:4px solid #ff9900;padding:1.5rem;max-width:48rem}}
dt{{font-weight:bold;margin-top:.6rem}}</style></head>
<body><main><h1>AWS console (sandbox)</h1>
<p>You are signed in to the offline sandbox console.</p>
<dl>
<dt>Assumed role</dt><dd id="assumed-role-arn">{arn}</dd>
<dt>Account</dt><dd id="account-id">{account}</dd>
<dt>Destination</dt><dd id="destination">{destination}</dd>
<dt>Issuer</dt><dd id="issuer">{issuer}</dd>
</dl></main></body></html>
"""


def _login(sandbox: SandboxParts, request: Request) -> Response:
    token = request.values.get("SigninToken")
    if not token:
        return _error(400, "Missing SigninToken")
    grant = sandbox.signin_tokens.get(token, sandbox.clock.now())
    if grant is None:
        return _error(400, "Invalid or expired SigninToken")
    destination = request.values.get("Destination", "https://console.aws.amazon.com/")
    if urlsplit(destination).scheme not in ("http", "https"):
        return _error(400, "Destination must be an http(s) URL")
    page = _PAGE.format(
        arn=html.escape(grant.assumed_role_arn),
        account=html.escape(grant.account_id),
        destination=html.escape(destination),
        issuer=html.escape(request.values.get("Issuer", "")),
    )
    return Response(page, content_type="text/html; charset=utf-8")


def handle(sandbox: SandboxParts, request: Request) -> Response:
    """Serve `/federation` (any host: every partition's sign-in URL points here)."""
    action = operation_name(request)
    if action == "GetSigninToken":
        return _get_signin_token(sandbox, request)
    if action == "Login":
        return _login(sandbox, request)
    return _error(400, "Action must be getSigninToken or login")
