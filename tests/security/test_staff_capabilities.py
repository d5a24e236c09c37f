"""Least-privilege staff: each capability opens its own pages only; nobody raises their own."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import User
from tests.security.conftest import World

pytestmark = pytest.mark.django_db

ADMIN_PAGES = {
    "/admin/audit/auditevent/": "auditor",
    "/admin/access/role/": "access_admin",
    "/admin/accounts/user/": "access_admin",
    "/admin/api/apitoken/": "access_admin",
    "/admin/integrations/integration/": "integration_admin",
    "/admin/resources/awsapp/": "integration_admin",
}


@pytest.mark.parametrize("persona", ["bare_staff", "auditor", "access_admin", "integration_admin"])
def test_admin_changelists_follow_the_capability(world: World, persona: str) -> None:
    """Today a staff user without permissions could edit roles and export the audit log."""
    client = world.client(persona)
    got = {path: client.get(path).status_code for path in ADMIN_PAGES}
    expected = {path: 200 if owner == persona else 403 for path, owner in ADMIN_PAGES.items()}
    assert got == expected


def test_only_a_superuser_rotates_the_ca(world: World) -> None:
    path = "/admin/authority/certificateauthority/rotate/init/"
    assert world.client("staff").get(path).status_code == 403
    assert world.client("integration_admin").post(path).status_code == 403
    root = world.users["staff"]
    root.is_superuser = True
    root.save(update_fields=["is_superuser"])
    assert world.client("staff").get(path).status_code == 200


def test_revoking_tokens_needs_the_access_admin_capability(world: World) -> None:
    from apps.api.models import ApiToken

    world.api_token("member")
    token = ApiToken.objects.get(user=world.users["member"])
    action = {"action": "revoke_tokens", "_selected_action": [str(token.pk)]}
    for persona in ("bare_staff", "auditor", "integration_admin"):
        world.client(persona).post("/admin/api/apitoken/", action)
        token.refresh_from_db()
        assert token.revoked_at is None, persona
    response = world.client("access_admin").post("/admin/api/apitoken/", action)
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_staff_cannot_grant_themselves_a_role(world: World) -> None:
    """An access admin edits other users' roles, never their own (superusers may)."""
    from django.core.exceptions import PermissionDenied

    from apps.accounts.services import user_save_from_admin
    from tests.resources.conftest import ACCESS_ROLE

    adam = world.users["access_admin"]
    client = world.client("access_admin")
    page = client.get(f"/admin/accounts/user/{adam.pk}/change/").content.decode()
    assert 'name="roles"' not in page and 'name="is_superuser"' not in page
    other = client.get(f"/admin/accounts/user/{world.users['user'].pk}/change/").content.decode()
    assert 'name="roles"' in other and 'name="is_superuser"' not in other
    adam.roles = [ACCESS_ROLE]
    with pytest.raises(PermissionDenied):
        user_save_from_admin(actor=adam, user=adam, created=False)
    assert User.objects.get(pk=adam.pk).roles == []


def test_staff_cannot_widen_a_role_they_hold(world: World) -> None:
    from apps.access.selectors import role_get
    from tests.resources.conftest import ACCESS_ROLE

    adam = world.users["access_admin"]
    adam.roles = [ACCESS_ROLE]
    adam.save(update_fields=["roles"])
    before = role_get(ACCESS_ROLE)
    assert before is not None
    client = world.client("access_admin")
    assert client.get(f"/manage/roles/{ACCESS_ROLE}/").status_code == 200
    edit = {"mode": "form", "allow_labels": "*: '*'", "revision": str(before.revision)}
    assert client.post(f"/manage/roles/{ACCESS_ROLE}/", edit).status_code == 403
    assert client.post(f"/manage/roles/{ACCESS_ROLE}/delete/").status_code == 403
    after = role_get(ACCESS_ROLE)
    assert after is not None and after.spec == before.spec


def test_the_upgrade_gives_existing_staff_every_capability(make_user: Any) -> None:
    """Existing staff keep working: the migration puts them in all three groups."""
    import importlib

    from django.apps import apps

    from apps.core.capabilities import has_capability

    migration = importlib.import_module("apps.core.migrations.0001_staff_capabilities")
    before = make_user("old-operator", is_staff=True, groups=[])
    plain = make_user("old-user")
    assert not has_capability(before, "audit_read")
    migration.create_groups(apps, None)
    before = User.objects.get(pk=before.pk)  # fresh permission cache
    assert all(
        has_capability(before, name) for name in ("audit_read", "access_admin", "integration_admin")
    )
    assert not User.objects.get(pk=plain.pk).groups.exists()
