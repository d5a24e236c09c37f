"""Django-free IAM Roles Anywhere protocol: signer, verifier, CreateSession client, federation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from awsra.client import create_session
    from awsra.credentials import Credentials
    from awsra.errors import (
        AccessDeniedError,
        AnswerTimeoutError,
        AwsError,
        AwsTimeoutError,
        ConnectionLostError,
        ResourceNotFoundError,
        ServerError,
        SignatureError,
        ThrottlingError,
        TransientError,
        ValidationError,
        VerificationError,
    )

# Loaded on first use (PEP 562): `import awsra.arn` from the CLI must not pull urllib3 and
# cryptography in through this package's __init__ (issue 23, item 5: a lean cache miss).
_LAZY = {"create_session": "awsra.client", "Credentials": "awsra.credentials"}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in __all__:
        return getattr(importlib.import_module("awsra.errors"), name)
    raise AttributeError(f"module 'awsra' has no attribute {name!r}")


__all__ = [
    "AccessDeniedError",
    "AnswerTimeoutError",
    "AwsError",
    "AwsTimeoutError",
    "ConnectionLostError",
    "Credentials",
    "ResourceNotFoundError",
    "ServerError",
    "SignatureError",
    "ThrottlingError",
    "TransientError",
    "ValidationError",
    "VerificationError",
    "create_session",
]
