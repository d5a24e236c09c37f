"""Sessions signed in before the OIDC backends moved into apps/accounts/oidc/ stay signed in."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY

from apps.accounts.middleware import LEGACY_BACKENDS


@pytest.mark.parametrize("old_path", sorted(LEGACY_BACKENDS))
def test_pre_move_session_stays_signed_in(client: Any, plain_user: Any, old_path: str) -> None:
    client.force_login(plain_user, backend=old_path)
    assert client.session[BACKEND_SESSION_KEY] == old_path

    response = client.get("/")

    assert response.wsgi_request.user == plain_user
    assert client.session[BACKEND_SESSION_KEY] == LEGACY_BACKENDS[old_path]


def test_unknown_backend_path_is_still_signed_out(client: Any, plain_user: Any) -> None:
    client.force_login(plain_user, backend="apps.accounts.gone.Backend")

    response = client.get("/")

    assert not response.wsgi_request.user.is_authenticated
