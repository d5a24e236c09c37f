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
from apps.integrations import aws
from apps.integrations.models import Integration
from apps.integrations.services.listing import _target, _upload_crl
from awsra.errors import AwsError, TransientError

log = logging.getLogger(__name__)
_TRANSIENT_MARKS = ("Throttl", "InternalFailure", "InternalServer", "ServiceUnavailable", "Timeout")


def crl_push_soon() -> None:
    """Queue a CRL push for every integration whose sync is enabled (the CRL changed)."""
    from apps.integrations.tasks import push_integration_crl

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
        plane = aws.control_plane_for(_target(integration))
        outcome, error = _upload_crl(plane, integration)
    except AwsError as failure:
        outcome, error = "error", f"signing in to AWS failed: {failure}"
        transient = isinstance(failure, TransientError)
    if outcome == "error" and any(mark in error for mark in _TRANSIENT_MARKS):
        # _upload_crl reports AWS failures as text: retry the kinds AWS says are passing.
        transient = True
    with transaction.atomic():
        audit_record(
            event_type=events.INTEGRATION_CRL_PUSHED,
            actor=None,
            actor_name="crl-push",
            outcome=AuditEvent.Outcome.ERROR if outcome == "error" else AuditEvent.Outcome.SUCCESS,
            target_kind="integration",
            target_name=integration.name,
            details={"outcome": outcome, "error": error or None},
        )
    return outcome, transient
