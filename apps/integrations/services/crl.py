"""Push Rolegate's CRL to each integration's trust anchor now (a leaf was revoked, or re-signed).

The profile sync uploads a changed CRL too, every interval; this path does it at once, so a
revoked certificate stops working in AWS within seconds, and the beat re-signs the list well
before it expires (`crl_refresh` past half its lifetime) and pushes it the same way.
"""

from __future__ import annotations

import logging

from django.db import transaction

from apps.audit import events
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.authority.pki import CaKeyError
from apps.authority.selectors import crl_pem
from apps.core.identity import SystemActor
from apps.core.jobs import task
from apps.integrations import aws
from apps.integrations.jobs import PUSH_INTEGRATION_CRL
from apps.integrations.models import Integration
from apps.integrations.services.listing import sync_target
from awsra.errors import AwsError, ResourceNotFoundError, TransientError

log = logging.getLogger(__name__)
_TRANSIENT_MARKS = ("Throttl", "InternalFailure", "InternalServer", "ServiceUnavailable", "Timeout")


def crl_push_soon() -> None:
    """Queue a CRL push for every integration whose sync is enabled (the CRL changed)."""
    push_integration_crl = task(PUSH_INTEGRATION_CRL)
    for integration_id in Integration.objects.filter(sync_enabled=True).values_list(
        "pk", flat=True
    ):
        try:
            push_integration_crl.delay(integration_id)
        except Exception:  # broker down: the next sync uploads the changed CRL
            log.warning("could not queue a CRL push for integration %s", integration_id)


def integration_crl_push(*, integration_id: int) -> tuple[str, bool]:
    """Upload the current CRL to one integration's trust anchor; (outcome, transient failure).

    Audited (`integration.crl_pushed`, an ERROR outcome when it failed).
    """
    integration = Integration.objects.filter(pk=integration_id, sync_enabled=True).first()
    if integration is None:
        return "gone", False
    transient = False
    try:
        plane = aws.control_plane_for(sync_target(integration))
        outcome, error = crl_upload(plane, integration)
    except AwsError as failure:
        outcome, error = "error", f"signing in to AWS failed: {failure}"
        transient = isinstance(failure, TransientError)
    if outcome == "error" and any(mark in error for mark in _TRANSIENT_MARKS):
        # crl_upload reports AWS failures as text: retry the kinds AWS says are passing.
        transient = True
    with transaction.atomic():
        audit_record(
            event_type=events.INTEGRATION_CRL_PUSHED,
            actor=SystemActor("crl-push"),
            outcome=AuditEvent.Outcome.ERROR if outcome == "error" else AuditEvent.Outcome.SUCCESS,
            target_kind="integration",
            target_name=integration.name,
            details={"outcome": outcome, "error": error or None},
        )
    return outcome, transient


def crl_upload(plane: aws.ControlPlane, integration: Integration) -> tuple[str, str]:
    """Import (first time) or update the CA's revocation list in the trust anchor when its
    version changed. Return (outcome, error message)."""
    try:
        pem, version = crl_pem()  # creates the CA on first use
    except CaKeyError as error:  # the CA's key cannot be loaded (wrong or missing key)
        return "error", f"revocation list: the authority could not produce it: {error}"
    if integration.crl_arn and integration.crl_uploaded_version == version:
        return "unchanged", ""
    data = pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
    crl_arn = integration.crl_arn
    try:
        if not crl_arn:
            # A previous run may have imported it and then failed to record it: reuse by name.
            try:
                for crl in plane.list_crls():
                    if (
                        crl.get("name") == aws.CRL_NAME
                        and crl.get("trustAnchorArn") == integration.trust_anchor_arn
                    ):
                        crl_arn = str(crl["crlArn"])
                        break
            except AwsError as error:
                log.info("ListCrls failed (%s); importing the revocation list", error.code)
        if crl_arn:
            try:
                detail = plane.update_crl(crl_id=crl_arn.rsplit("/", 1)[-1], data=data)
                outcome = "updated"
            except ResourceNotFoundError:
                crl_arn = ""
        if not crl_arn:
            detail = plane.import_crl(
                name=aws.CRL_NAME, data=data, trust_anchor_arn=integration.trust_anchor_arn
            )
            outcome = "imported"
    except AwsError as error:
        return "error", f"uploading the revocation list to the trust anchor failed: {error}"
    Integration.objects.filter(pk=integration.pk).update(
        crl_arn=str(detail.get("crlArn") or crl_arn), crl_uploaded_version=version
    )
    return outcome, ""
