"""The enrollment script: bash plus the AWS CLI, nothing else (it runs as-is in AWS CloudShell).

It creates, or on a re-run brings back in line, the trust anchor (with Rolegate's CA bundle),
the profile-sync role with its trust and inline policies, and the profile-sync profile. Every
resource is tagged as owned by the integration; a same-named resource without that tag is never
modified. It ends by printing the three ARNs between marker lines for the wizard to parse.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from apps.integrations.enrollment.policies import (
    INLINE_POLICY_NAME,
    OWNER_ORIGIN,
    OWNER_TAG_CLUSTER,
    OWNER_TAG_INTEGRATION,
    OWNER_TAG_ORIGIN,
    EnrollmentNames,
    sync_role_permissions_policy,
)

MARKER = "================================================="

_TEMPLATE = (Path(__file__).parent / "enroll.sh.tmpl").read_text()


def enrollment_script(
    *, names: EnrollmentNames, cluster: str, ca_bundle_pem: str, session_revocation: bool = False
) -> str:
    """Render the bash script for ``names`` with the CA bundle embedded (and, with
    ``session_revocation``, the IAM permissions the kill switch needs)."""
    bundle = ca_bundle_pem.strip()
    source = {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": bundle}}
    values = {
        "INTEGRATION": names.integration,
        "CLUSTER": cluster,
        "TRUST_ANCHOR": names.trust_anchor,
        "SYNC_ROLE": names.sync_role,
        "SYNC_PROFILE": names.sync_profile,
        "TAG_INTEGRATION": OWNER_TAG_INTEGRATION,
        "TAG_CLUSTER": OWNER_TAG_CLUSTER,
        "TAG_ORIGIN": OWNER_TAG_ORIGIN,
        "ORIGIN": OWNER_ORIGIN,
        "INLINE_POLICY": INLINE_POLICY_NAME,
        "SOURCE_JSON": json.dumps(source, separators=(",", ":")),
        "CA_BUNDLE": bundle,
        "PERMISSIONS_POLICY": json.dumps(
            sync_role_permissions_policy(session_revocation=session_revocation),
            separators=(",", ":"),
        ),
    }
    text = _TEMPLATE
    for key, value in values.items():
        text = text.replace(f"__Q_{key}__", shlex.quote(value))
    # Header comment only: names are validated to safe characters before we get here.
    text = text.replace("__INTEGRATION__", names.integration).replace("__CLUSTER__", cluster)
    return text.replace("__MARKER__", MARKER)


def parse_script_output(text: str) -> dict[str, str]:
    """Find the trust anchor, profile and role ARNs in pasted script output (any order).

    Returns a dict with keys ``trust_anchor_arn``, ``profile_arn``, ``role_arn`` for the ARNs
    found; callers validate each with the strict ARN parser.
    """
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip().strip("\"'").strip()
        if not line.startswith("arn:"):
            continue
        if ":trust-anchor/" in line:
            found.setdefault("trust_anchor_arn", line)
        elif ":profile/" in line:
            found.setdefault("profile_arn", line)
        elif ":role/" in line:
            found.setdefault("role_arn", line)
    return found
