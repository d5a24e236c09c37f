"""Every view carries exactly one access policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from apps.core.policies import anonymous_allowed, login_required, policy_of, staff_required

# Namespaces whose views enforce access themselves, with the reason.
SELF_GUARDED_NAMESPACES = {
    "admin",  # Django admin: every view is wrapped in admin_site.admin_view (staff only)
    "api-1.0.0",  # django-ninja: authentication is declared per operation (bearer tokens)
    "oidc",  # mozilla-django-oidc callback: the OIDC state/nonce is the access check
}


def walk(
    resolver: URLResolver, namespace: str = "", prefix: str = ""
) -> Iterator[tuple[str, str, Any]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            yield from walk(entry, inner or "", prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield namespace, prefix + str(entry.pattern), entry.callback


def test_every_view_has_exactly_one_policy() -> None:
    missing = []
    checked = 0
    for namespace, route, view in walk(get_resolver()):
        if namespace.split(":")[0] in SELF_GUARDED_NAMESPACES:
            continue
        if route.startswith("static/"):
            continue
        checked += 1
        if policy_of(view) is None:
            missing.append(f"{namespace}:{route} -> {getattr(view, '__qualname__', view)}")
    assert checked > 3
    assert missing == [], "views without an access policy:\n" + "\n".join(missing)


def test_a_second_policy_is_refused() -> None:
    @anonymous_allowed
    def view(request: Any) -> Any:
        return None

    with pytest.raises(TypeError, match="already has access policy"):
        anonymous_allowed(view)
    with pytest.raises(TypeError, match="already has access policy"):
        staff_required(view)
    assert policy_of(login_required(lambda request: None)) == "login"


def test_staff_view_personas(client: Any, staff_user: Any, plain_user: Any) -> None:
    response = client.get("/manage/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/manage/")
    client.force_login(plain_user)
    assert client.get("/manage/").status_code == 403
    client.force_login(staff_user)
    assert client.get("/manage/").status_code == 200


def test_healthz_is_anonymous(client: Any, db: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_admin_index_links_to_the_operator_tools(client: Any, make_user: Any) -> None:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    page = client.get("/admin/").content.decode()
    assert "/manage/integrations/enroll/" in page
    assert "Site administration" in page  # Django's own index is still there
