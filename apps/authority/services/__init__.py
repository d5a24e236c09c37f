"""Writes for the certificate authority, split by topic: the CAs themselves and their CRLs
(``authorities``), leaf certificates (``leaves``) and rotation (``rotation``)."""

from __future__ import annotations

from apps.authority.pki import CaKeyError
from apps.authority.services.authorities import (
    CRL_LIFETIME,
    RotationError,
    ca_ensure,
    forget_signers,
)
from apps.authority.services.leaves import (
    MAX_LEAF_TTL,
    IssuedCertificate,
    certificate_issue,
    certificate_revoke,
    crl_refresh,
)
from apps.authority.services.rotation import (
    ROTATION_PHASES,
    RotationPhase,
    ca_expiry_warn,
    ca_keys_rewrap,
    ca_rotate,
)

__all__ = [
    "CRL_LIFETIME",
    "MAX_LEAF_TTL",
    "ROTATION_PHASES",
    "CaKeyError",
    "IssuedCertificate",
    "RotationError",
    "RotationPhase",
    "ca_ensure",
    "ca_expiry_warn",
    "ca_keys_rewrap",
    "ca_rotate",
    "certificate_issue",
    "certificate_revoke",
    "crl_refresh",
    "forget_signers",
]
