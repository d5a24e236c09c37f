"""moto wiring: IAM/STS/S3 backends, IAM enforcement switch, reset, and IAM helpers.

moto keeps its backends in process-global dictionaries, so there is one AWS per process:
run one `Sandbox` per process (the pytest plugin shares one per test session).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

# moto reads this when an IAM backend is (re)created; ReadOnlyAccess and AdministratorAccess
# must exist as real AWS managed policies for enforcement to mean anything.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.sts.models import sts_backends

ACCOUNT_ID: str = DEFAULT_ACCOUNT_ID
PARTITION = "aws"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class AccessKey:
    """A long-term IAM access key pair (never log the secret)."""

    user_name: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"AccessKey(user_name={self.user_name!r}, access_key_id={self.access_key_id!r})"


def iam() -> Any:
    """moto's IAM backend of the sandbox account."""
    return iam_backends[ACCOUNT_ID][PARTITION]


def sts() -> Any:
    """moto's STS backend of the sandbox account."""
    return sts_backends[ACCOUNT_ID][PARTITION]


def s3() -> Any:
    """moto's S3 backend of the sandbox account."""
    return s3_backends[ACCOUNT_ID][PARTITION]


def enable_iam_enforcement() -> float:
    """Make moto check signatures and IAM policies on every request; return the old setting."""
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return float(previous)


def restore_iam_enforcement(previous: float) -> None:
    """Undo `enable_iam_enforcement`."""
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
    ActionAuthenticatorMixin.request_count = 0


def reset_moto() -> None:
    """Drop every IAM user/role/policy, STS session and S3 bucket (managed policies stay)."""
    backend_dicts: tuple[Any, ...] = (s3_backends, sts_backends, iam_backends)
    for backend_dict in backend_dicts:
        for account_backend in list(backend_dict.values()):
            for partition, backend in list(account_backend.items()):
                # moto creates an IAM backend for every partition at once, and rebuilding one
                # parses ~1600 managed policies; skip the partitions nobody has touched.
                if partition != PARTITION and not _has_state(backend):
                    continue
                if backend_dict is iam_backends:
                    _reset_iam_keeping_managed_policies(backend)
                else:
                    backend.reset()
    ActionAuthenticatorMixin.request_count = 0
    if not iam().aws_managed_policies:
        raise RuntimeError("moto did not load the AWS managed policies after reset")


def _reset_iam_keeping_managed_policies(backend: Any) -> None:
    """Reset an IAM backend but reuse its parsed AWS managed policies (parsing takes ~0.5 s)."""
    policies = list(backend.aws_managed_policies)
    if not policies:
        backend.reset()
        return
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
    try:
        backend.reset()
    finally:
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    for policy in policies:
        # Attachments lived on the users/roles/groups that the reset dropped.
        policy.attachment_count = 0
    backend.aws_managed_policies = policies
    backend.managed_policies = {policy.arn: policy for policy in policies}


def _has_state(backend: Any) -> bool:
    aws_managed = len(getattr(backend, "aws_managed_policies", ()))
    if len(getattr(backend, "managed_policies", {})) > aws_managed:
        return True
    return any(
        getattr(backend, name, None)
        for name in ("users", "roles", "groups", "buckets", "assumed_roles", "instance_profiles")
    )


def managed_policy_arn(name: str) -> str:
    """ARN of an AWS managed policy: `ReadOnlyAccess` → `arn:aws:iam::aws:policy/ReadOnlyAccess`."""
    return f"arn:{PARTITION}:iam::aws:policy/{name}"


def create_user_with_key(user_name: str, policy_arns: list[str]) -> AccessKey:
    """Create (or reuse) an IAM user with these managed policies and a fresh access key."""
    backend = iam()
    if user_name not in backend.users:
        backend.create_user(region_name=DEFAULT_REGION, user_name=user_name)
    user = backend.get_user(user_name)
    for arn in policy_arns:
        if arn not in user.managed_policies:
            backend.attach_user_policy(policy_arn=arn, user_name=user_name)
    # IAM allows two keys per user; drop the oldest so a re-seed never hits the limit.
    keys = backend.list_access_keys(user_name)
    if len(keys) >= 2:
        backend.delete_access_key(keys[0].access_key_id, user_name)
    key = backend.create_access_key(user_name=user_name)
    return AccessKey(user_name, key.access_key_id, key.secret_access_key)


def create_role(
    role_name: str,
    trust_policy: dict[str, Any],
    *,
    managed_policy_arns: list[str] | None = None,
    inline_policies: dict[str, dict[str, Any]] | None = None,
    max_session_duration: int = 3600,
    path: str = "/",
) -> str:
    """Create an IAM role with policies; return its ARN."""
    backend = iam()
    role = backend.create_role(
        role_name=role_name,
        assume_role_policy_document=json.dumps(trust_policy),
        path=path,
        permissions_boundary=None,
        description="",
        tags=[],
        max_session_duration=str(max_session_duration),
    )
    for arn in managed_policy_arns or []:
        backend.attach_role_policy(policy_arn=arn, role_name=role_name)
    for name, document in (inline_policies or {}).items():
        backend.put_role_policy(role_name, name, json.dumps(document))
    return str(role.arn)
