"""CreateSession (`POST /sessions`): Roles Anywhere's X.509 wrapper around sts:AssumeRole.

Decision order (protocol notes §3.6): signature and date skew (the `awsra` verifier),
certificate profile and validity, chain to an enabled certificate of the named trust anchor,
revocation by the anchor's enabled CRLs, profile enabled and role listed, roleSessionName,
duration, trust policy, then credentials minted by moto's STS backend.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from werkzeug.wrappers import Request

from awsra.arn import ArnError, parse_profile_arn, parse_role_arn, parse_trust_anchor_arn
from awsra.errors import VerificationError
from awsra.verifier import verify_request

from . import pki, trust_policy
from .clock import iso
from .errors import access_denied, not_found, validation
from .moto_backend import ACCOUNT_ID, iam, sts
from .parts import SandboxParts
from .state import Subject

MIN_DURATION = 900
MAX_DURATION = 43200
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}\Z", re.ASCII)


def _raw_path(request: Request) -> tuple[str, str]:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    path, _, query = raw.partition("?")
    return path, query


def create_session(sandbox: SandboxParts, request: Request) -> tuple[int, dict[str, Any]]:
    """Run CreateSession; return (201, body) or raise ApiError as AWS would refuse."""
    now = sandbox.clock.now()
    path, query = _raw_path(request)
    body = request.get_data(cache=True)
    try:
        verified = verify_request(
            method=request.method,
            path=path,
            query_string=query,
            headers=request.headers,  # type: ignore[arg-type]
            body=body,
            now=now,
            max_skew=sandbox.max_skew,
        )
    except VerificationError as error:
        raise access_denied(f"Signature verification failed: {error.reason}") from None

    if not verified.trust_anchor_arn or not verified.profile_arn or not verified.role_arn:
        raise validation("trustAnchorArn, profileArn and roleArn are required")
    try:
        anchor_arn = parse_trust_anchor_arn(verified.trust_anchor_arn)
        profile_arn = parse_profile_arn(verified.profile_arn)
        role_arn = parse_role_arn(verified.role_arn)
    except ArnError as error:
        raise validation(str(error)) from None

    certificate = verified.certificate
    pki.check_leaf_profile(certificate, now)

    state = sandbox.state
    with state.lock:
        anchor = state.trust_anchor_by_arn(anchor_arn.arn)
        profile = state.profile_by_arn(profile_arn.arn)
        if anchor is None:
            raise not_found(f"Trust anchor not found: {anchor_arn.arn}")
        if profile is None:
            raise not_found(f"Profile not found: {profile_arn.arn}")
        if not anchor.enabled:
            raise access_denied(f"Trust anchor {anchor.arn} is disabled")
        source_type = anchor.source_type
        bundle = anchor.source_data.get("x509CertificateData", "")
        crl_data = [c.data for c in state.crls_for(anchor.arn) if c.enabled]
        profile_enabled = profile.enabled
        profile_roles = list(profile.role_arns)
        accept_session_name = profile.accept_role_session_name
        profile_duration = profile.duration_seconds
        mappings = [dict(m) for m in profile.attribute_mappings]
        session_policy = profile.session_policy

    if source_type != "CERTIFICATE_BUNDLE":
        raise access_denied(
            f"Untrusted Signing Certificate: the sandbox only verifies CERTIFICATE_BUNDLE trust "
            f"anchors (this one is {source_type})"
        )
    anchors = x509.load_pem_x509_certificates(bundle.encode("utf-8"))
    path_certificates = pki.build_path(certificate, verified.chain, anchors, now)
    pki.check_revocation(path_certificates, crl_data)

    if (anchor_arn.region, anchor_arn.account_id) != (profile_arn.region, profile_arn.account_id):
        raise access_denied("Trust anchor and profile must be in the same account and region")
    if not profile_enabled:
        raise access_denied(f"Profile {profile_arn.arn} is disabled")
    if role_arn.arn not in profile_roles:
        raise access_denied(f"Role {role_arn.arn} is not in profile {profile_arn.arn}")

    if verified.role_session_name is not None:
        if not accept_session_name:
            raise access_denied("Not authorized to set roleSessionName.")
        if not _SESSION_NAME_RE.match(verified.role_session_name):
            raise validation(
                "roleSessionName must be 2-64 characters of letters, digits and +=,.@_-"
            )
        session_name = verified.role_session_name
    else:
        session_name = pki.default_session_name(certificate)

    try:
        role = iam().get_role_by_arn(role_arn.arn)
    except Exception:
        raise access_denied(f"Role {role_arn.arn} does not exist") from None

    requested = verified.duration_seconds
    if requested is not None and not MIN_DURATION <= requested <= MAX_DURATION:
        raise validation(
            f"Value '{requested}' at 'durationSeconds' failed to satisfy constraint: Member must "
            f"have value between {MIN_DURATION} and {MAX_DURATION}"
        )
    duration = profile_duration if requested is None else min(profile_duration, requested)
    max_session = int(role.max_session_duration or 3600)
    if duration > max_session:
        raise validation(
            f"The requested DurationSeconds ({duration}) exceeds the MaxSessionDuration "
            f"({max_session}) set for role {role_arn.arn}"
        )

    tags = pki.session_tags(certificate, mappings)
    identity = pki.source_identity(certificate)
    context: dict[str, str] = {
        "aws:SourceArn": anchor_arn.arn,
        "aws:SourceAccount": anchor_arn.account_id,
        "sts:SourceIdentity": identity,
        "sts:RoleSessionName": session_name,
    }
    for key, value in tags.items():
        context[f"aws:PrincipalTag/{key}"] = value
        context[f"aws:RequestTag/{key}"] = value
    try:
        policy = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        raise access_denied(f"Trust policy of {role_arn.arn} is not valid JSON") from None
    try:
        trust_policy.evaluate(policy, context, role_arn.arn)
    except trust_policy.TrustPolicyDenied as error:
        raise access_denied(f"Not authorized to assume role: {error.reason}") from None

    assumed = sts().assume_role(
        region_name=verified.region,
        role_session_name=session_name,
        role_arn=role_arn.arn,
        policy=session_policy or "",
        duration=duration,
        external_id="",
    )
    expiration = now + timedelta(seconds=duration)
    # moto stamps expiry from the real clock; align it with the sandbox clock so a skewed
    # clock expires the credentials consistently.
    assumed.expiration = expiration.replace(tzinfo=None)
    with state.lock:
        # aws:TokenIssueTime has whole seconds (truncated), as on AWS.
        state.session_contexts[assumed.access_key_id] = {
            "aws:SourceIdentity": identity,
            "aws:TokenIssueTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:PrincipalArn": role_arn.arn,
            "aws:userid": f"{assumed.user_id}",
        }
    subject_arn = _record_subject(sandbox, certificate, verified.region, anchor_arn.account_id)
    with sandbox.state.lock:
        sandbox.state.issued_sessions.append(
            {
                "serial": f"{certificate.serial_number:x}",
                "role_arn": role_arn.arn,
                "role_session_name": session_name,
                "source_identity": identity,
            }
        )
    packed = 0 if not session_policy else min(100, len(session_policy) * 100 // 2048)
    return 201, {
        "credentialSet": [
            {
                "assumedRoleUser": {"arn": assumed.arn, "assumedRoleId": assumed.user_id},
                "credentials": {
                    "accessKeyId": assumed.access_key_id,
                    "secretAccessKey": assumed.secret_access_key,
                    "sessionToken": assumed.session_token,
                    "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                "packedPolicySize": packed,
                "roleArn": role_arn.arn,
                "sourceIdentity": identity,
            }
        ],
        "subjectArn": subject_arn,
    }


def _record_subject(
    sandbox: SandboxParts, certificate: x509.Certificate, region: str, account: str
) -> str:
    now = sandbox.clock.now()
    dn = certificate.subject.rfc4514_string()
    credential = {
        "seenAt": iso(now),
        "serialNumber": f"{certificate.serial_number:x}",
        "issuer": certificate.issuer.rfc4514_string(),
        "enabled": True,
        "x509CertificateData": base64.b64encode(certificate.public_bytes(Encoding.DER)).decode(),
        "failed": False,
    }
    with sandbox.state.lock:
        subject = next((s for s in sandbox.state.subjects.values() if s.x509_subject == dn), None)
        if subject is None:
            subject_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rolegate-sandbox:{account}:{dn}"))
            subject = Subject(
                id=subject_id,
                arn=f"arn:aws:rolesanywhere:{region}:{ACCOUNT_ID}:subject/{subject_id}",
                x509_subject=dn,
                created_at=now,
                updated_at=now,
                last_seen_at=now,
            )
            sandbox.state.subjects[subject_id] = subject
        subject.last_seen_at = now
        subject.updated_at = now
        others = [c for c in subject.credentials if c["serialNumber"] != credential["serialNumber"]]
        # Keep the last ten certificates seen, like a bounded audit trail.
        subject.credentials = [*others[-9:], credential]
        return subject.arn
