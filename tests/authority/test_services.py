"""The CA services against PostgreSQL: creation, issuance, revocation, rotation, key handling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.authority import selectors, services
from apps.authority.models import CertificateAuthority, LeafCertificate
from apps.authority.pki import CaKeyError
from apps.authority.services import authorities
from apps.core.identity import SystemActor

from .conftest import OTHER_KEK, TEST_KEK

State = CertificateAuthority.State
pytestmark = pytest.mark.django_db


def bundle_certificates() -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(selectors.ca_bundle_pem().encode())


def test_first_issuance_creates_the_ca_once_and_audits_it(make_user: Any) -> None:
    alice = make_user("alice")
    assert selectors.active_ca() is None
    first = services.certificate_issue(subject_cn="alice", purpose="console", actor=alice)
    second = services.certificate_issue(subject_cn="alice", purpose="console", actor=alice)
    authority = selectors.active_ca()
    assert authority is not None and CertificateAuthority.objects.count() == 1
    assert first.certificate.issuer == second.certificate.issuer == authority.certificate.subject
    created = AuditEvent.objects.filter(event_type="ca.created")
    assert [event.target_name for event in created] == [authority.fingerprint_sha256]
    # Leaves are audited by their caller (one event per credential issuance), not here.
    assert AuditEvent.objects.count() == 1


def test_issued_certificate_value_and_row() -> None:
    issued = services.certificate_issue(
        subject_cn="bob", purpose="cli", ttl=timedelta(minutes=5), actor=SystemActor("svc")
    )
    assert issued.chain == ()
    assert issued.serial == issued.certificate.serial_number
    assert issued.serial_hex == f"{issued.serial:032x}" and issued.serial_hex.islower()
    assert issued.not_after == issued.certificate.not_valid_after_utc
    assert issued.private_key.public_key() == issued.certificate.public_key()
    assert issued.certificate.public_bytes(serialization.Encoding.DER) == issued.der
    assert (
        issued.certificate_pem()
        == issued.certificate.public_bytes(serialization.Encoding.PEM).decode()
    )
    # The signing identity is the leaf as issued (its DER, serial and key), no chain.
    identity = issued.identity
    assert (identity.certificate_der, identity.serial, identity.private_key) == (
        issued.der,
        issued.serial,
        issued.private_key,
    )
    assert identity.chain_der == () and identity.chain_value is None
    assert "PRIVATE" not in repr(issued) and issued.serial_hex in repr(issued)
    assert "PRIVATE" not in repr(identity)
    with pytest.raises(dataclasses_frozen_error()):
        issued.serial = 1  # type: ignore[misc]
    row = LeafCertificate.objects.get(serial_hex=issued.serial_hex)
    assert (row.subject_cn, row.purpose, row.actor_name) == ("bob", "cli", "svc")
    assert row.authority == selectors.active_ca()
    assert row.not_after == issued.not_after
    assert row.not_after - row.issued_at == timedelta(minutes=5)
    assert row.issued_at - row.not_before == timedelta(minutes=5)  # pki.CLOCK_SKEW


def dataclasses_frozen_error() -> type[Exception]:
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_thousand_leaves_have_thousand_distinct_serials() -> None:
    serials = [
        services.certificate_issue(subject_cn=f"user{i}", purpose="bulk", actor=None).serial
        for i in range(1000)
    ]
    assert len(set(serials)) == 1000
    assert LeafCertificate.objects.filter(purpose="bulk").count() == 1000
    assert set(LeafCertificate.objects.values_list("serial_hex", flat=True)) == {
        f"{serial:032x}" for serial in serials
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject_cn": ""}, "subject_cn must be a non-empty"),
        ({"subject_cn": "x" * 65}, "at most 64"),
        ({"subject_cn": "evil\nname"}, "control characters"),
        ({"purpose": ""}, "purpose"),
        ({"ttl": timedelta(0)}, "ttl"),
        ({"ttl": timedelta(hours=2)}, "ttl"),
    ],
)
def test_bad_leaf_requests_are_refused(fields: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"subject_cn": "alice", "purpose": "console", "actor": None}
    with pytest.raises(ValueError, match=message):
        services.certificate_issue(**{**arguments, **fields})
    assert LeafCertificate.objects.count() == 0


def test_leaf_near_ca_expiry_is_truncated_and_an_expired_ca_refuses(settings: Any) -> None:
    settings.ROLEGATE_CA_VALIDITY_DAYS = 30
    authority = services.ca_ensure(actor=None)
    with time_machine.travel(authority.not_after - timedelta(seconds=30), tick=False):
        issued = services.certificate_issue(subject_cn="a", purpose="p", actor=None)
        assert issued.not_after == authority.not_after
    with (
        time_machine.travel(authority.not_after + timedelta(seconds=1), tick=False),
        pytest.raises(CaKeyError, match="expired"),
    ):
        services.certificate_issue(subject_cn="a", purpose="p", actor=None)


# --- keys at rest ---------------------------------------------------------------------------


def test_database_holds_no_plaintext_key() -> None:
    from cryptography.hazmat.primitives import serialization

    services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    services.ca_rotate(phase="init", actor=None)
    secrets = []
    for authority in CertificateAuthority.objects.all():
        key = authorities._signer_for(authority).private_key
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        secrets.append(der[-32:])  # the tail of PKCS#8 holds the private scalar/public point
        secrets.append(key.private_numbers().private_value.to_bytes(32, "big"))  # type: ignore[union-attr]
    assert len(secrets) == 4
    stored = b""
    with connection.cursor() as cursor:
        for table in ("authority_certificateauthority", "authority_leafcertificate"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (fixed table names)
            for row in cursor.fetchall():
                for value in row:
                    stored += (
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else (str(value).encode())
                    )
    assert b"BEGIN CERTIFICATE" in stored  # the dump did read the CA rows
    assert b"PRIVATE KEY" not in stored
    for secret in secrets:
        assert secret not in stored
        assert secret.hex().encode() not in stored


def test_wrong_key_gives_one_clear_error(settings: Any) -> None:
    services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    services.forget_signers()
    settings.ROLEGATE_CA_ENCRYPTION_KEY = OTHER_KEK
    with pytest.raises(CaKeyError, match="cannot be decrypted") as caught:
        services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    # No chained InvalidTag traceback behind the message.
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert TEST_KEK not in str(caught.value) and OTHER_KEK not in str(caught.value)
    # The operator command turns it into a one-line CommandError.
    services.ca_rotate(phase="init", actor=None)  # a standby made with the (new) key
    settings.ROLEGATE_CA_ENCRYPTION_KEY = TEST_KEK
    services.forget_signers()
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_ca", "activate")


def test_even_a_cached_signer_is_not_used_under_a_wrong_key(settings: Any) -> None:
    services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    settings.ROLEGATE_CA_ENCRYPTION_KEY = OTHER_KEK
    with pytest.raises(CaKeyError):
        services.certificate_issue(subject_cn="alice", purpose="console", actor=None)


def test_missing_key_gives_one_clear_error(settings: Any) -> None:
    settings.ROLEGATE_CA_ENCRYPTION_KEY = ""
    settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE = ""
    with pytest.raises(CaKeyError, match="no CA encryption key is configured"):
        services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    assert CertificateAuthority.objects.count() == 0


def test_key_file_and_kek_rotation(settings: Any, tmp_path: Any) -> None:
    from apps.authority.keyring import clear_cache

    key_file = tmp_path / "kek"
    key_file.write_text(TEST_KEK + "\n")
    settings.ROLEGATE_CA_ENCRYPTION_KEY = ""
    settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE = str(key_file)
    clear_cache()
    authority = services.ca_ensure(actor=None)
    # Rotate the KEK: new key first, old key still listed, then re-wrap and drop the old one.
    settings.ROLEGATE_CA_ENCRYPTION_KEY = f"{OTHER_KEK},{TEST_KEK}"
    assert services.ca_keys_rewrap(actor=None) == 1
    assert services.ca_keys_rewrap(actor=None) == 0
    settings.ROLEGATE_CA_ENCRYPTION_KEY = OTHER_KEK
    services.forget_signers()
    issued = services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    issued.certificate.verify_directly_issued_by(authority.certificate)
    assert AuditEvent.objects.filter(event_type="ca.keys_rewrapped").count() == 1
    settings.ROLEGATE_CA_ENCRYPTION_KEY = ""
    settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE = str(tmp_path / "missing")
    services.forget_signers()
    with pytest.raises(CaKeyError, match="cannot be read"):
        services.certificate_issue(subject_cn="alice", purpose="console", actor=None)


def _ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages if message.id.startswith("rolegate.E01")]


def test_system_check_requires_a_key_in_production(settings: Any) -> None:
    settings.ROLEGATE_CA_ENCRYPTION_KEY = ""
    settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE = ""
    settings.PRODUCTION = False
    assert _ids(run_checks()) == []
    settings.PRODUCTION = True
    assert _ids(run_checks()) == ["rolegate.E010"]
    settings.ROLEGATE_CA_ENCRYPTION_KEY = "too short"
    assert _ids(run_checks()) == ["rolegate.E011"]
    settings.ROLEGATE_CA_ENCRYPTION_KEY = TEST_KEK
    assert _ids(run_checks()) == []


# --- revocation -----------------------------------------------------------------------------


def test_revocation_lists_the_serial_in_a_crl_signed_by_the_ca(make_user: Any) -> None:
    operator = make_user("operator", is_staff=True)
    keep = services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    revoke = services.certificate_issue(subject_cn="mallory", purpose="console", actor=None)
    empty_pem, empty_number = selectors.crl_pem()
    assert list(x509.load_pem_x509_crl(empty_pem.encode())) == []
    row = services.certificate_revoke(serial=revoke.serial, reason="laptop lost", actor=operator)
    assert row.revoked_at is not None and row.revocation_reason == "laptop lost"
    pem, number = selectors.crl_pem()
    assert number > empty_number
    crl = x509.load_pem_x509_crl(pem.encode())
    authority = selectors.active_ca()
    assert authority is not None
    assert crl.is_signature_valid(authority.certificate.public_key())  # type: ignore[arg-type]
    assert crl.issuer == authority.certificate.subject
    assert crl.get_revoked_certificate_by_serial_number(revoke.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(keep.serial) is None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number
    event = AuditEvent.objects.get(event_type="certificate.revoked")
    assert event.target_name == revoke.serial_hex and event.actor_name == "operator"
    # Revoking again (by hex string this time) changes nothing and does not bump the number.
    services.certificate_revoke(serial=revoke.serial_hex.upper(), reason="again", actor=operator)
    assert selectors.crl_pem()[1] == number
    assert AuditEvent.objects.filter(event_type="certificate.revoked").count() == 1


@pytest.mark.parametrize(
    ("serial", "message"),
    [("zz", "not a hexadecimal"), (0, "out of range"), ("ab" * 8, "no certificate with serial")],
)
def test_bad_revocations_are_refused(serial: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        services.certificate_revoke(serial=serial, reason="r", actor=None)


def test_revocation_needs_a_reason() -> None:
    issued = services.certificate_issue(subject_cn="a", purpose="p", actor=None)
    with pytest.raises(ValueError, match="reason"):
        services.certificate_revoke(serial=issued.serial, reason=" ", actor=None)


def test_crl_refresh_only_when_due() -> None:
    services.ca_ensure(actor=None)
    _, number = selectors.crl_pem()
    assert services.crl_refresh(actor=None) is False
    with time_machine.travel(timezone.now() + services.CRL_LIFETIME / 2 + timedelta(minutes=1)):
        assert services.crl_refresh(actor=None) is True
    assert selectors.crl_pem()[1] > number


# --- rotation -------------------------------------------------------------------------------


def states() -> list[str]:
    return sorted(CertificateAuthority.objects.values_list("state", flat=True))


def test_rotation_phases_change_states_bundle_and_signer() -> None:
    first = services.ca_rotate(phase="init", actor=None)  # empty install: the first CA
    assert first.state == State.ACTIVE and states() == ["active"]
    assert [c.fingerprint(_sha256()) for c in bundle_certificates()] == [
        first.certificate.fingerprint(_sha256())
    ]
    _, crl_number = selectors.crl_pem()

    standby = services.ca_rotate(phase="init", actor=None)
    assert states() == ["active", "standby"]
    bundle = bundle_certificates()
    assert [c.subject for c in bundle] == [first.certificate.subject, standby.certificate.subject]
    leaf = services.certificate_issue(subject_cn="a", purpose="p", actor=None)
    assert leaf.certificate.issuer == first.certificate.subject  # standby does not sign
    with pytest.raises(services.RotationError, match="already initialised"):
        services.ca_rotate(phase="init", actor=None)
    with pytest.raises(services.RotationError, match="no previous CA"):
        services.ca_rotate(phase="finish", actor=None)

    services.ca_rotate(phase="activate", actor=None)
    assert states() == ["active", "previous"]
    assert len(bundle_certificates()) == 2
    leaf = services.certificate_issue(subject_cn="a", purpose="p", actor=None)
    assert leaf.certificate.issuer == standby.certificate.subject
    assert selectors.crl_pem()[1] > crl_number  # the new CA's CRL replaces the old one

    retired = services.ca_rotate(phase="finish", actor=None)
    assert retired.pk == first.pk and states() == ["active", "retired"]
    assert [c.subject for c in bundle_certificates()] == [standby.certificate.subject]
    events = list(
        AuditEvent.objects.filter(event_type__startswith="ca.")
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert events == [
        "ca.created",
        "ca.rotation_initiated",
        "ca.rotation_activated",
        "ca.rotation_finished",
    ]


def test_rollback_after_init_and_after_activate() -> None:
    first = services.ca_ensure(actor=None)
    services.ca_rotate(phase="init", actor=None)
    services.ca_rotate(phase="rollback", actor=None)
    assert states() == ["active", "retired"] and len(bundle_certificates()) == 1

    second = services.ca_rotate(phase="init", actor=None)
    services.ca_rotate(phase="activate", actor=None)
    restored = services.ca_rotate(phase="rollback", actor=None)
    assert restored.pk == first.pk
    assert states() == ["active", "retired", "standby"]
    leaf = services.certificate_issue(subject_cn="a", purpose="p", actor=None)
    assert leaf.certificate.issuer == first.certificate.subject
    # The rolled-back CA stays trusted (its leaves stay valid) and can be activated again.
    assert second.certificate.subject in [c.subject for c in bundle_certificates()]
    services.ca_rotate(phase="activate", actor=None)
    assert selectors.active_ca() == second
    with pytest.raises(services.RotationError, match="unknown rotation phase"):
        services.ca_rotate(phase="sideways", actor=None)  # type: ignore[arg-type]


def test_rotate_ca_command_prints_state_and_next_steps() -> None:
    from io import StringIO

    out = StringIO()
    call_command("rotate_ca", "init", stdout=out)
    assert "is now active" in out.getvalue()
    out = StringIO()
    call_command("rotate_ca", "init", stdout=out)
    assert "is now standby" in out.getvalue() and "update-trust-anchor" in out.getvalue()
    assert "Next phase(s): activate, rollback" in out.getvalue()
    with pytest.raises(CommandError, match="already initialised"):
        call_command("rotate_ca", "init")
    out = StringIO()
    call_command("export_ca", "--type", "awsra", stdout=out)
    assert out.getvalue() == selectors.ca_bundle_pem()
    assert out.getvalue().count("BEGIN CERTIFICATE") == 2


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def test_a_rotation_in_another_process_is_honoured_at_once() -> None:
    first = services.ca_ensure(actor=None)
    services.certificate_issue(subject_cn="a", purpose="p", actor=None)  # warms this process
    services.ca_rotate(phase="init", actor=None)
    # Another process activates: simulated by changing the rows behind this process's back.
    CertificateAuthority.objects.filter(pk=first.pk).update(state=State.PREVIOUS)
    CertificateAuthority.objects.filter(state=State.STANDBY).update(state=State.ACTIVE)
    new = selectors.active_ca()
    assert new is not None and new.pk != first.pk
    leaf = services.certificate_issue(subject_cn="a", purpose="p", actor=None)
    assert leaf.certificate.issuer == new.certificate.subject
    leaf.certificate.verify_directly_issued_by(new.certificate)
    assert LeafCertificate.objects.get(serial_hex=leaf.serial_hex).authority_id == new.pk


def test_issuance_costs_one_query_once_warm(django_assert_num_queries: Any) -> None:
    services.certificate_issue(subject_cn="a", purpose="p", actor=None)
    with django_assert_num_queries(1):
        services.certificate_issue(subject_cn="a", purpose="p", actor=None)


def test_nothing_secret_reaches_the_logs(caplog: Any) -> None:
    import logging

    from cryptography.hazmat.primitives import serialization

    caplog.set_level(logging.DEBUG)
    leaf = services.certificate_issue(subject_cn="alice", purpose="console", actor=None)
    services.certificate_revoke(serial=leaf.serial, reason="test", actor=None)
    services.ca_rotate(phase="init", actor=None)
    authority = selectors.active_ca()
    assert authority is not None
    ca_key = authorities._signer_for(authority).private_key
    scalars = [
        ca_key.private_numbers().private_value,  # type: ignore[union-attr]
        leaf.private_key.private_numbers().private_value,
    ]
    leaf_pem = leaf.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    text = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert "PRIVATE KEY" not in text and leaf_pem not in text
    for scalar in scalars:
        assert f"{scalar:x}" not in text and str(scalar) not in text
    assert TEST_KEK not in text
