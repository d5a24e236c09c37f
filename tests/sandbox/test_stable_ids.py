"""Resource ids derive from names, so a restarted sandbox gives the same ARNs back."""

from __future__ import annotations

from typing import Any

import boto3

from sandbox import create_operator


def test_same_name_same_arn_after_reset(aws_env: Any, monkeypatch: Any) -> None:
    def create() -> tuple[str, str]:
        client = boto3.session.Session().client("rolesanywhere")
        profile = client.create_profile(
            name="Stable", roleArns=["arn:aws:iam::123456789012:role/R"], enabled=True
        )["profile"]["profileArn"]
        twin = client.create_profile(
            name="Stable", roleArns=["arn:aws:iam::123456789012:role/R"], enabled=True
        )["profile"]["profileArn"]
        return profile, twin

    first, first_twin = create()
    assert first != first_twin  # AWS allows duplicate names; each still gets its own id
    aws_env.reset()
    key = create_operator()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key.secret_access_key)
    assert create() == (first, first_twin)
