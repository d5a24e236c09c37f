"""Error mapping from real AWS error responses, and the credential_process format."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from awsra.credential_process import format_output, parse_output
from awsra.credentials import Credentials
from awsra.errors import (
    AccessDeniedError,
    AwsError,
    ResourceNotFoundError,
    ServerError,
    ThrottlingError,
    TransientError,
    ValidationError,
    error_from_response,
)


@pytest.mark.parametrize(
    ("status", "headers", "body", "cls", "code", "message"),
    [
        # Roles Anywhere (restJson1): code in the header, with AWS's ":<uri>" decoration.
        (
            403,
            {"X-Amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/"},
            b'{"message":"Untrusted Signing Certificate"}',
            AccessDeniedError,
            "AccessDeniedException",
            "Untrusted Signing Certificate",
        ),
        (
            403,
            {"x-amzn-errortype": "AccessDeniedException"},
            b'{"message":"Not authorized to set roleSessionName."}',
            AccessDeniedError,
            "AccessDeniedException",
            "Not authorized to set roleSessionName.",
        ),
        (
            400,
            {"X-Amzn-ErrorType": "ValidationException"},
            b"{\"message\":\"1 validation error detected: Value '43200' at 'durationSeconds' "
            b'failed to satisfy constraint: Member must have value less than or equal to 3600"}',
            ValidationError,
            "ValidationException",
            "1 validation error detected: Value '43200' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value less than or equal to 3600",
        ),
        (
            404,
            {"X-Amzn-ErrorType": "ResourceNotFoundException:"},
            b'{"message":"Resource not found"}',
            ResourceNotFoundError,
            "ResourceNotFoundException",
            "Resource not found",
        ),
        (
            503,
            {"X-Amzn-ErrorType": "ServiceUnavailableException"},
            b'{"message":"Service unavailable","retryAfterSeconds":2}',
            ServerError,
            "ServiceUnavailableException",
            "Service unavailable",
        ),
        # awsJson style: namespaced __type and a capitalised Message.
        (
            400,
            {},
            b'{"__type":"com.amazon.coral.availability#ThrottlingException",'
            b'"Message":"Rate exceeded"}',
            ThrottlingError,
            "ThrottlingException",
            "Rate exceeded",
        ),
        (429, {}, b"", ThrottlingError, "HTTP429", "HTTP 429 with no error message"),
        (502, {}, b"<html>Bad Gateway</html>", ServerError, "HTTP502", "<html>Bad Gateway</html>"),
        # The federation endpoint answers in plain text.
        (
            400,
            {},
            b"Invalid Credentials Parameter",
            ValidationError,
            "HTTP400",
            "Invalid Credentials Parameter",
        ),
    ],
)
def test_error_from_response(status, headers, body, cls, code, message):
    error = error_from_response(status, headers, body)
    assert type(error) is cls
    assert (error.code, error.message, error.status) == (code, message, status)
    assert code in str(error)


def test_transient_family():
    assert issubclass(ThrottlingError, TransientError)
    assert issubclass(ServerError, TransientError)
    assert not issubclass(AccessDeniedError, TransientError)
    assert isinstance(error_from_response(418, {}, b"teapot"), AwsError)


CREDS = Credentials(
    access_key_id="ASIAEXAMPLE",
    secret_access_key="s3cr3t",
    session_token="tok",
    expiration=datetime(2030, 7, 27, 6, 36, 55, tzinfo=timezone(timedelta(hours=2))),
)


def test_format_output_is_version_1_with_utc_z():
    data = json.loads(format_output(CREDS))
    assert data == {
        "Version": 1,
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": "s3cr3t",
        "SessionToken": "tok",
        "Expiration": "2030-07-27T04:36:55Z",
    }


def test_round_trip():
    parsed = parse_output(format_output(CREDS))
    assert parsed == CREDS
    assert parsed.expiration.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON"),
        ("[]", "JSON object"),
        ('{"Version": 2}', "Version 2"),
        ('{"Version": "1"}', "Version '1'"),
        ('{"Version": true}', "Version True"),
        (
            '{"Version": 1, "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "x"}',
            "missing AccessKeyId",
        ),
        (
            '{"Version": 1, "AccessKeyId": 5, "SecretAccessKey": "s", "SessionToken": "t", '
            '"Expiration": "2030-01-01T00:00:00Z"}',
            "AccessKeyId must be",
        ),
        (
            '{"Version": 1, "AccessKeyId": "a", "SecretAccessKey": "s", "SessionToken": "t"}',
            "missing Expiration",
        ),
        (
            '{"Version": 1, "AccessKeyId": "a", "SecretAccessKey": "s", "SessionToken": "t", '
            '"Expiration": "tomorrow"}',
            "not RFC 3339",
        ),
        (
            '{"Version": 1, "AccessKeyId": "a", "SecretAccessKey": "s", "SessionToken": "t", '
            '"Expiration": "2030-01-01T00:00:00"}',
            "time zone",
        ),
    ],
)
def test_parse_output_errors_are_clear(text, message):
    with pytest.raises(ValueError, match=message):
        parse_output(text)


def test_botocore_accepts_the_output(tmp_path):
    """botocore's own credential_process provider reads what format_output writes."""
    script = tmp_path / "emit.py"
    script.write_text(f"print({format_output(CREDS)!r})\n")
    config = tmp_path / "config"
    config.write_text(f"[profile t]\ncredential_process = {sys.executable} {script}\n")
    code = (
        "import botocore.session\n"
        "s = botocore.session.Session(profile='t')\n"
        "c = s.get_credentials().get_frozen_credentials()\n"
        "print(c.access_key, c.secret_key, c.token)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "c"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["ASIAEXAMPLE", "s3cr3t", "tok"]


def test_credentials_require_aware_expiration():
    with pytest.raises(ValueError, match="timezone-aware"):
        Credentials("a", "b", "c", datetime(2030, 1, 1))
