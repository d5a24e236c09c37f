"""Suite-wide fixtures: personas, and the offline AWS sandbox plugin."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest

os.environ.setdefault("ROLEGATE_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rolegate")

# The sandbox plugin provides `aws_sandbox` / `sandbox` fixtures (a real HTTP endpoint).
pytest_plugins = (
    ["sandbox.pytest_plugin"] if importlib.util.find_spec("sandbox.pytest_plugin") else []
)


@pytest.fixture(autouse=True)
def _isolated_cache() -> Any:
    """Forget cached state (login throttles, compiled roles) between tests."""
    yield
    from django.core.cache import cache

    client_factory = getattr(cache, "_cache", None)
    if client_factory is not None and hasattr(client_factory, "get_client"):
        client = client_factory.get_client(write=True)
        # settings.py gives each test process its own KEY_PREFIX, so this never touches the
        # keys of another xdist worker or of a live demo.
        keys = list(client.scan_iter(f"{cache.key_prefix}:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


def _ensure_capability_groups() -> None:
    """Recreate the capability groups the migration made: a transactional test's flush empties
    auth_group (Django re-creates permissions after a flush, not data-migration rows)."""
    from django.contrib.auth.models import Group, Permission

    from apps.core.capabilities import GROUPS

    for name, (capability, permissions) in GROUPS.items():
        group, created = Group.objects.get_or_create(name=name)
        if not created:
            continue
        wanted = [("core", capability)] + [tuple(p.split(".", 1)) for p in permissions]
        for app_label, codename in wanted:
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


@pytest.fixture
def make_user(db: Any) -> Any:
    """Create users with a known password: make_user("alice", roles=[...], is_staff=False)."""
    from apps.accounts.models import User

    def make(
        username: str,
        *,
        password: str = "correct horse battery",
        groups: list[str] | None = None,
        **fields: Any,
    ) -> User:
        from django.contrib.auth.models import Group

        from apps.core.capabilities import GROUPS

        user = User.objects.create_user(username=username, password=password, **fields)
        if groups is None and fields.get("is_staff"):
            # An operator holds every staff capability, as the upgrade maps existing staff;
            # pass groups=[...] for a narrower one.
            groups = list(GROUPS)
        if groups:
            _ensure_capability_groups()
            user.groups.set(Group.objects.filter(name__in=groups))
        return user

    return make


@pytest.fixture
def staff_user(make_user: Any) -> Any:
    """An operator."""
    return make_user("operator", is_staff=True)


@pytest.fixture
def plain_user(make_user: Any) -> Any:
    """A signed-up user with no roles."""
    return make_user("bob")


@pytest.fixture
def staff_client(client: Any, staff_user: Any) -> Any:
    """A test client signed in as the operator."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def user_client(client: Any, plain_user: Any) -> Any:
    """A test client signed in as a user without roles."""
    client.force_login(plain_user)
    return client


def without_audit_seals(callbacks: list[Any]) -> list[Any]:
    """The on-commit callbacks a change queued, minus the audit chain's seal of its events."""
    from apps.audit.chain import seal_after_commit

    return [c for c in callbacks if getattr(c, "func", None) is not seal_after_commit]
