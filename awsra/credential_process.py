"""The AWS CLI/SDK `credential_process` output format (Version 1), written and read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from awsra.credentials import Credentials

__all__ = ["format_expiration", "format_output", "parse_output"]


def format_expiration(when: datetime) -> str:
    """Return `when` as RFC 3339 UTC with a `Z` suffix and whole seconds."""
    if when.tzinfo is None:
        raise ValueError("expiration must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_output(credentials: Credentials) -> str:
    """Return the credential_process JSON document (Version 1) for `credentials`."""
    return json.dumps(
        {
            "Version": 1,
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "Expiration": format_expiration(credentials.expiration),
        }
    )


def parse_output(text: str | bytes) -> Credentials:
    """Parse credential_process JSON (Version 1, temporary credentials) into Credentials."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"credential_process output is not JSON: {exc.__class__.__name__}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError("credential_process output must be a JSON object")
    version = data.get("Version")
    if isinstance(version, bool) or version != 1 or not isinstance(version, int):
        raise ValueError(f"unsupported credential_process Version {version!r} (expected 1)")
    fields: dict[str, str] = {}
    for key in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"):
        value = data.get(key)
        if value is None:
            raise ValueError(f"credential_process output is missing {key}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"credential_process {key} must be a non-empty string")
        fields[key] = value
    try:
        expiration = datetime.fromisoformat(fields["Expiration"])
    except ValueError:
        raise ValueError(
            f"credential_process Expiration {fields['Expiration']!r} is not RFC 3339"
        ) from None
    if expiration.tzinfo is None:
        raise ValueError("credential_process Expiration must include a time zone (e.g. 'Z')")
    return Credentials(
        access_key_id=fields["AccessKeyId"],
        secret_access_key=fields["SecretAccessKey"],
        session_token=fields["SessionToken"],
        expiration=expiration.astimezone(UTC),
    )
