"""The export endpoint and the admin pages, for the three personas."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509

from apps.authority import selectors, services
from apps.authority.models import CertificateAuthority, LeafCertificate

pytestmark = pytest.mark.django_db

CA_LIST = "/admin/authority/certificateauthority/"
LEAF_LIST = "/admin/authority/leafcertificate/"
ADMIN_EXPORT = "/admin/authority/certificateauthority/export/"


def rotate_url(phase: str) -> str:
    return f"/admin/authority/certificateauthority/rotate/{phase}/"


def assert_no_key_material(body: str) -> None:
    assert "PRIVATE KEY" not in body
    for field in ("key_ciphertext", "wrapped_dek", "dek_nonce", "key_nonce"):
        assert field not in body


def test_export_is_anonymous_and_serves_the_bundle(client: Any) -> None:
    response = client.get("/auth/export?type=awsra")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    body = response.content.decode()
    assert body == selectors.ca_bundle_pem()
    (certificate,) = x509.load_pem_x509_certificates(body.encode())
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert_no_key_material(body)
    services.ca_rotate(phase="init", actor=None)
    assert client.get("/auth/export?type=awsra").content.decode().count("BEGIN CERTIFICATE") == 2


def test_export_refuses_unknown_types_and_posts(client: Any) -> None:
    response = client.get("/auth/export?type=ssh")
    assert response.status_code == 400
    assert b"supported: awsra" in response.content
    assert client.post("/auth/export?type=awsra").status_code == 405


def test_export_without_an_encryption_key_is_a_clear_503(client: Any, settings: Any) -> None:
    settings.ROLEGATE_CA_ENCRYPTION_KEY = ""
    settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE = ""
    response = client.get("/auth/export?type=awsra")
    assert response.status_code == 503
    assert response.content == b"the certificate authority is not available\n"


@pytest.mark.parametrize("url", [CA_LIST, LEAF_LIST, ADMIN_EXPORT, rotate_url("init")])
def test_admin_pages_refuse_anonymous_and_non_staff(client: Any, plain_user: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(plain_user)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post(rotate_url("init")).status_code == 302
    assert CertificateAuthority.objects.count() == 0


def test_superusers_see_the_ca_list_without_key_material(
    admin_client: Any, django_assert_max_num_queries: Any
) -> None:
    authority = services.ca_ensure(actor=None)
    services.ca_rotate(phase="init", actor=None)
    with django_assert_max_num_queries(12):
        response = admin_client.get(CA_LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert authority.fingerprint_sha256 in body
    assert "standby" in body and "ecdsa-p256" in body
    assert "Activate the new CA" in body and "Download CA bundle" in body
    assert_no_key_material(body)
    detail = admin_client.get(f"{CA_LIST}{authority.pk}/change/")
    assert detail.status_code == 200
    assert authority.fingerprint_sha256 in detail.content.decode()
    assert_no_key_material(detail.content.decode())
    assert b'name="_save"' not in detail.content  # read-only


def test_staff_download_the_bundle(staff_client: Any) -> None:
    response = staff_client.get(ADMIN_EXPORT)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="rolegate-awsra-ca.pem"'
    assert response.content.decode() == selectors.ca_bundle_pem()


def test_rotation_confirmation_explains_and_post_runs(admin_client: Any, admin_user: Any) -> None:
    services.ca_ensure(actor=None)
    page = admin_client.get(rotate_url("init"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "update-trust-anchor" in text and "Yes, run init" in text
    assert CertificateAuthority.objects.count() == 1  # GET changes nothing
    response = admin_client.post(rotate_url("init"))
    assert response.status_code == 302
    assert CertificateAuthority.objects.filter(state="standby").count() == 1
    from apps.audit.models import AuditEvent

    event = AuditEvent.objects.get(event_type="ca.rotation_initiated")
    assert event.actor_name == admin_user.username
    # A phase that does not apply is explained, not run.
    page = admin_client.get(rotate_url("finish"))
    assert "does not apply" in page.content.decode()
    admin_client.post(rotate_url("finish"))
    assert not CertificateAuthority.objects.filter(state="retired").exists()
    assert admin_client.post(rotate_url("bogus")).status_code == 302


def test_leaf_list_filters_and_constant_queries(
    staff_client: Any, django_assert_max_num_queries: Any
) -> None:
    for name in ("alice", "bob", "carol"):
        services.certificate_issue(subject_cn=name, purpose="console", actor=None)
    revoked = services.certificate_issue(subject_cn="mallory", purpose="cli", actor=None)
    services.certificate_revoke(serial=revoked.serial, reason="lost", actor=None)
    with django_assert_max_num_queries(15) as few:
        assert staff_client.get(LEAF_LIST).status_code == 200
    for i in range(20):
        services.certificate_issue(subject_cn=f"u{i}", purpose="console", actor=None)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(LEAF_LIST)
    assert_no_key_material(response.content.decode())
    filtered = staff_client.get(LEAF_LIST, {"purpose": "cli"}).content.decode()
    assert revoked.serial_hex in filtered and "alice" not in filtered
    searched = staff_client.get(LEAF_LIST, {"q": "carol"}).content.decode()
    assert "carol" in searched and "mallory" not in searched
    assert LeafCertificate.objects.count() == 24
