"""Django-free offline AWS: moto (IAM, STS, S3), Roles Anywhere and console sign-in on one URL.

moto's backends are process-global, so run one `Sandbox` per process.
"""

from __future__ import annotations

from .moto_backend import ACCOUNT_ID, AccessKey
from .seed import create_operator, create_profile, create_trust_anchor, seed_guide
from .server import Sandbox

__all__ = [
    "ACCOUNT_ID",
    "AccessKey",
    "Sandbox",
    "create_operator",
    "create_profile",
    "create_trust_anchor",
    "seed_guide",
]
