"""Django-free IAM Roles Anywhere protocol: signer, verifier, CreateSession client, federation."""

from __future__ import annotations

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
