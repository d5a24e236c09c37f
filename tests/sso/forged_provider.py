"""A tiny OpenID provider that issues deliberately bad ID tokens, served over real HTTP.

oidc-provider-mock only issues good tokens; this one serves discovery, JWKS, an authorization
endpoint that answers at once, a token endpoint (which checks PKCE) and userinfo, and forges the
ID token according to ``mode``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

MODES = (
    "ok",
    "wrong_audience",
    "expired",
    "expired_30s",
    "issued_in_future_30s",
    "bad_signature",
    "wrong_issuer",
    "wrong_nonce",
    "no_nonce",
    "alg_hs256",
    "alg_none",
    "unknown_kid",
    "azp_other_client",
)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class ForgedProvider:
    """The provider's state: keys, pending codes, the forging mode and request counters."""

    def __init__(self) -> None:
        self.key = _new_key()
        self.other_key = _new_key()
        self.kid = "forged-1"
        self.mode = "ok"
        self.claims: dict[str, Any] = {"preferred_username": "mallory", "email": "m@example.com"}
        self.subject = "forged-subject-1"
        self.issuer_in_discovery: str | None = None
        self.codes: dict[str, dict[str, str]] = {}
        self.hits: Counter[str] = Counter()
        self.base_url = ""
        self.client_secret = "s3cret-client"

    # --- token forging ---------------------------------------------------------------------

    def id_token(self, *, client_id: str, nonce: str) -> str:
        """Build the ID token for the current mode."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.base_url,
            "sub": self.subject,
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.claims,
        }
        key: Any = self.key
        algorithm = "RS256"
        headers = {"kid": self.kid}
        mode = self.mode
        if mode == "wrong_audience":
            claims["aud"] = "some-other-client"
        elif mode == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif mode == "expired_30s":
            claims["iat"], claims["exp"] = now - 330, now - 30
        elif mode == "issued_in_future_30s":
            claims["iat"], claims["exp"] = now + 30, now + 330
        elif mode == "bad_signature":
            key = self.other_key  # same kid, different key: the signature cannot verify
        elif mode == "wrong_issuer":
            claims["iss"] = "https://evil.example"
        elif mode == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif mode == "no_nonce":
            del claims["nonce"]
        elif mode == "alg_hs256":
            # Algorithm confusion: an HMAC keyed with a value the client knows.
            key, algorithm = (self.client_secret * 4).encode(), "HS256"
        elif mode == "unknown_kid":
            key, headers = self.other_key, {"kid": "not-published"}
        elif mode == "azp_other_client":
            claims["aud"] = [client_id, "another"]
            claims["azp"] = "another"
        if mode == "alg_none":
            return jwt.encode(claims, "", algorithm="none", headers=headers)
        return jwt.encode(claims, key, algorithm=algorithm, headers=headers)

    # --- HTTP ----------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The published keys (only ``key``, never ``other_key``)."""
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        self.hits[request.path] += 1
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Route one request."""
        if request.path == "/.well-known/openid-configuration":
            return _json(
                {
                    "issuer": self.issuer_in_discovery or self.base_url,
                    "authorization_endpoint": f"{self.base_url}/authorize",
                    "token_endpoint": f"{self.base_url}/token",
                    "userinfo_endpoint": f"{self.base_url}/userinfo",
                    "jwks_uri": f"{self.base_url}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )
        if request.path == "/jwks":
            return _json(self.jwks())
        if request.path == "/authorize":
            args = request.args
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": args.get("nonce", ""),
                "client_id": args.get("client_id", ""),
                "challenge": args.get("code_challenge", ""),
                "method": args.get("code_challenge_method", ""),
                "redirect_uri": args.get("redirect_uri", ""),
            }
            target = args["redirect_uri"] + "?" + urlencode({"code": code, "state": args["state"]})
            return Response(status=302, headers={"Location": target})
        if request.path == "/token" and request.method == "POST":
            return self.token(request)
        if request.path == "/userinfo":
            return _json({"sub": self.subject, **self.claims})
        return Response("not found", status=404)

    def token(self, request: Request) -> Response:
        """Exchange a code, enforcing PKCE S256 and the redirect URI like a real provider."""
        form = request.form
        pending = self.codes.pop(form.get("code", ""), None)
        if pending is None or form.get("redirect_uri") != pending["redirect_uri"]:
            return _json({"error": "invalid_grant"}, status=400)
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if pending["method"] != "S256" or challenge != pending["challenge"]:
            return _json({"error": "invalid_grant", "error_description": "PKCE"}, status=400)
        token = self.id_token(client_id=pending["client_id"], nonce=pending["nonce"])
        return _json(
            {
                "access_token": "at-" + secrets.token_urlsafe(8),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": token,
            }
        )


def _json(data: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(data), status=status, mimetype="application/json")


@contextmanager
def forged_provider() -> Iterator[ForgedProvider]:
    """Run a ForgedProvider on a free localhost port for the duration of the block."""
    provider = ForgedProvider()
    server = make_server("127.0.0.1", 0, provider, threaded=True)
    provider.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
