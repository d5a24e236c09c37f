"""The CRL keeps itself fresh: the beat re-signs it before it expires, and a revoked leaf is
pushed to the trust anchor at once (no waiting for the next sync)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from cryptography import x509
from django.utils import timezone

import awsra
from apps.audit.models import AuditEvent
from apps.authority.services import CRL_LIFETIME, certificate_issue, certificate_revoke
from apps.integrations.tasks import refresh_crl
from portal.celery import beat_schedule
from tests.revocation.conftest import KillScenario

pytestmark = pytest.mark.django_db


def _anchor_crl_serials(kill: KillScenario) -> set[int]:
    state = kill.base.sandbox.state
    with state.lock:
        crls = [c.data for c in state.crls_for(kill.base.anchor_arn) if c.enabled]
    serials: set[int] = set()
    for data in crls:
        crl = (
            x509.load_der_x509_crl(data)
            if not data.startswith(b"-----")
            else (x509.load_pem_x509_crl(data))
        )
        serials |= {entry.serial_number for entry in crl}
    return serials


def test_a_revoked_leaf_reaches_the_trust_anchor_at_once(kill: KillScenario) -> None:
    leaf = certificate_issue(
        subject_cn="alice", purpose="test", ttl=timedelta(minutes=5), actor=None
    )
    kwargs: dict[str, Any] = {
        "certificate": leaf.certificate,
        "private_key": leaf.private_key,
        "chain": leaf.chain,
        "trust_anchor_arn": kill.base.anchor_arn,
        "profile_arn": kill.base.profile_arn,
        "role_arn": kill.base.role_arn,
    }
    assert awsra.create_session(**kwargs).access_key_id
    with kill.capture(execute=True):
        certificate_revoke(serial=leaf.serial_hex, reason="laptop lost", actor=kill.carol)
    assert int(leaf.serial_hex, 16) in _anchor_crl_serials(kill)
    with pytest.raises(awsra.AwsError):
        awsra.create_session(**kwargs)
    pushed = AuditEvent.objects.filter(event_type="integration.crl_pushed").latest("id")
    assert pushed.details["outcome"] in ("imported", "updated")


def test_the_beat_re_signs_the_crl_before_it_expires_and_pushes_it(kill: KillScenario) -> None:
    schedule = beat_schedule(300)
    assert schedule["refresh-crl"]["task"] == "apps.integrations.tasks.refresh_crl"
    assert schedule["refresh-crl"]["schedule"] < CRL_LIFETIME.total_seconds() / 2
    assert "reconcile-session-revocations" in schedule
    with kill.capture(execute=True):
        refresh_crl.delay()  # nothing is due yet, but a first push may import the list
    before = AuditEvent.objects.filter(event_type="ca.crl_refreshed").count()
    with kill.capture(execute=True), time_machine.travel(timezone.now() + CRL_LIFETIME / 2):
        assert refresh_crl.apply().get() is True
    assert AuditEvent.objects.filter(event_type="ca.crl_refreshed").count() == before + 1
    pushed = AuditEvent.objects.filter(event_type="integration.crl_pushed").latest("id")
    assert pushed.outcome == AuditEvent.Outcome.SUCCESS
