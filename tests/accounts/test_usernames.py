"""One username rule everywhere (`create -f`, the admin, SSO), and Rolegate's own CNs reserved."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.accounts.oidc.mapping import sanitize_username
from apps.accounts.services import user_apply
from apps.accounts.usernames import RESERVED_USERNAMES, username_problem
from apps.core.registry import ResourceError, apply_documents
from apps.integrations.aws import SYNC_SUBJECT_CN

pytestmark = pytest.mark.django_db


def test_the_profile_sync_identity_is_reserved() -> None:
    assert SYNC_SUBJECT_CN in RESERVED_USERNAMES
    assert "reserved" in username_problem(SYNC_SUBJECT_CN)
    assert username_problem("alice") == ""
    assert username_problem("\u0430dmin")  # Cyrillic: not in the username alphabet


@pytest.mark.parametrize("name", [SYNC_SUBJECT_CN, "Rolegate-Profile-Sync", "x y", "\u0430dmin"])
def test_create_f_refuses_what_the_rule_refuses(name: str) -> None:
    document = {"kind": "user", "version": "v2", "metadata": {"name": name}, "spec": {}}
    with pytest.raises(ResourceError):
        apply_documents([document], actor=None)
    with pytest.raises(ResourceError):
        user_apply(actor=None, username=name, roles=[], traits={})
    assert not User.objects.filter(username=name).exists()


def test_sso_never_maps_to_a_reserved_name() -> None:
    assert sanitize_username(SYNC_SUBJECT_CN) is None
    assert sanitize_username("alice") == "alice"


@pytest.mark.parametrize("name", [SYNC_SUBJECT_CN, "x y", "\u0430dmin"])
def test_the_admin_refuses_the_same_names(name: str, staff_user: Any) -> None:
    staff_user.is_superuser = True
    staff_user.save()
    client = Client()
    client.force_login(staff_user)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": name,
            "password1": "correct horse battery",
            "password2": "correct horse battery",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert not User.objects.filter(username=name).exists()
    text = response.content.decode()
    assert "reserved" in text or "must be 1-150" in text
