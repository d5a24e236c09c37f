"""Seed data and helpers: the reference guide's scenario, operator users, trust anchors."""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Any

from . import moto_backend
from .controlplane import parse_certificate_bundle
from .moto_backend import ACCOUNT_ID, AccessKey
from .parts import SandboxParts
from .state import Profile, TrustAnchor, new_id

OPERATOR_USER = "sandbox-admin"
CREDENTIALS_PROFILE = "sandbox-admin"
GUIDE_ROLE_NAME = "ExampleReadOnlyAccess"
GUIDE_PROFILE_NAME = "ExampleReadOnlyAccess"
GUIDE_BUCKET = "example-read-only-bucket"
GUIDE_OBJECT_KEY = "hello.txt"

# The trust policy of the reference guide (Step 2/4), verbatim.
GUIDE_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "rolesanywhere.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
        }
    ],
}


def create_operator(user_name: str = OPERATOR_USER) -> AccessKey:
    """Create an IAM user with AdministratorAccess and return its access key."""
    return moto_backend.create_user_with_key(
        user_name, [moto_backend.managed_policy_arn("AdministratorAccess")]
    )


def _arn(sandbox: SandboxParts | None, kind: str, resource_id: str, region: str) -> str:
    return f"arn:aws:rolesanywhere:{region}:{ACCOUNT_ID}:{kind}/{resource_id}"


def create_trust_anchor(
    sandbox: SandboxParts,
    pem_bundle: str,
    *,
    name: str = "RolegateCA",
    enabled: bool = True,
    region: str = moto_backend.DEFAULT_REGION,
) -> str:
    """Create a CERTIFICATE_BUNDLE trust anchor from PEM CA certificates; return its ARN."""
    parse_certificate_bundle(pem_bundle)
    now = sandbox.clock.now()
    resource_id = new_id(f"trust-anchor:{region}:{name}", sandbox.state.trust_anchors)
    anchor = TrustAnchor(
        id=resource_id,
        arn=_arn(sandbox, "trust-anchor", resource_id, region),
        name=name,
        source_type="CERTIFICATE_BUNDLE",
        source_data={"x509CertificateData": pem_bundle},
        enabled=enabled,
        created_at=now,
        updated_at=now,
    )
    with sandbox.state.lock:
        sandbox.state.trust_anchors[resource_id] = anchor
    return anchor.arn


def create_profile(
    sandbox: SandboxParts,
    name: str,
    role_arns: list[str],
    *,
    enabled: bool = True,
    duration_seconds: int = 3600,
    accept_role_session_name: bool = False,
    tags: dict[str, str] | None = None,
    region: str = moto_backend.DEFAULT_REGION,
) -> str:
    """Create a Roles Anywhere profile directly in the sandbox state; return its ARN."""
    now = sandbox.clock.now()
    resource_id = new_id(f"profile:{region}:{name}", sandbox.state.profiles)
    profile = Profile(
        id=resource_id,
        arn=_arn(sandbox, "profile", resource_id, region),
        name=name,
        role_arns=list(role_arns),
        enabled=enabled,
        duration_seconds=duration_seconds,
        accept_role_session_name=accept_role_session_name,
        created_by=ACCOUNT_ID,
        created_at=now,
        updated_at=now,
    )
    with sandbox.state.lock:
        sandbox.state.profiles[resource_id] = profile
        sandbox.state.tags[profile.arn] = dict(tags or {})
    return profile.arn


def seed_guide(sandbox: SandboxParts, *, accept_role_session_name: bool = True) -> dict[str, Any]:
    """The reference guide's scenario, minus the trust anchor (Rolegate's enrollment makes it).

    The profile accepts role session names so the console shows the Rolegate username as the
    session name, as the guide's "Confirm credentials are working" step expects.
    """
    operator = create_operator()
    role_arn = moto_backend.create_role(
        GUIDE_ROLE_NAME,
        GUIDE_TRUST_POLICY,
        managed_policy_arns=[moto_backend.managed_policy_arn("ReadOnlyAccess")],
    )
    profile_arn = create_profile(
        sandbox,
        GUIDE_PROFILE_NAME,
        [role_arn],
        accept_role_session_name=accept_role_session_name,
    )
    s3 = moto_backend.s3()
    s3.create_bucket(GUIDE_BUCKET, moto_backend.DEFAULT_REGION)
    s3.put_object(GUIDE_BUCKET, GUIDE_OBJECT_KEY, b"Hello from the Rolegate sandbox.\n")
    return {
        "account_id": ACCOUNT_ID,
        "region": moto_backend.DEFAULT_REGION,
        "role_arn": role_arn,
        "profile_arn": profile_arn,
        "bucket": GUIDE_BUCKET,
        "object_key": GUIDE_OBJECT_KEY,
        "operator": operator,
    }


def write_credentials_file(
    path: str | os.PathLike[str], key: AccessKey, profile: str = CREDENTIALS_PROFILE
) -> Path:
    """Write (or update) `profile` in an AWS shared-credentials file, mode 0600."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    config = configparser.ConfigParser(interpolation=None)
    if target.exists():
        config.read(target, encoding="utf-8")
    config[profile] = {
        "aws_access_key_id": key.access_key_id,
        "aws_secret_access_key": key.secret_access_key,
    }
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        config.write(handle)
    os.chmod(target, 0o600)
    return target
