"""Client addresses behind proxies: a table of spoofing attempts, and no 500 on garbage."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.core.proxies import ProxyTrust, forwarded_client, parse_networks

NONE = ProxyTrust()
ONE_HOP = ProxyTrust(hops=1)
TWO_HOPS = ProxyTrust(hops=2)
PROXY_NETS = ProxyTrust(networks=parse_networks(["10.0.0.0/8", "fd00::/8"]))

# (trust, REMOTE_ADDR, X-Forwarded-For as received, the address Rolegate must use)
CASES = [
    # No proxy trusted: the header is ignored whatever it says.
    (NONE, "203.0.113.7", "198.51.100.1", "203.0.113.7"),
    # One hop: the proxy appended the real client; the client's own prefix is ignored.
    (ONE_HOP, "10.0.0.2", "203.0.113.7", "203.0.113.7"),
    (ONE_HOP, "10.0.0.2", "1.1.1.1, 203.0.113.7", "203.0.113.7"),
    (ONE_HOP, "10.0.0.2", "1.1.1.1, 2.2.2.2, 203.0.113.7", "203.0.113.7"),
    # Two hops: the second entry from the right.
    (TWO_HOPS, "10.0.0.3", "1.1.1.1, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
    (TWO_HOPS, "10.0.0.3", "203.0.113.7", "10.0.0.3"),  # fewer entries than hops
    # Networks: skip trusted proxies from the right, the first untrusted one is the client.
    (PROXY_NETS, "10.0.0.3", "1.1.1.1, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
    (PROXY_NETS, "10.0.0.3", "10.9.9.9", "10.9.9.9"),  # all trusted: the left-most
    (PROXY_NETS, "203.0.113.9", "1.1.1.1", "203.0.113.9"),  # untrusted peer: header ignored
    (PROXY_NETS, "fd00::1", "2001:db8::5, fd00::2", "2001:db8::5"),
    # Malformed: REMOTE_ADDR, never an exception.
    (ONE_HOP, "10.0.0.2", "not-an-ip", "10.0.0.2"),
    (ONE_HOP, "10.0.0.2", "not-an-ip, 10.0.0.1", "10.0.0.1"),
    (ONE_HOP, "10.0.0.2", "10.0.0.1, not-an-ip", "10.0.0.2"),
    (ONE_HOP, "10.0.0.2", "", "10.0.0.2"),
    (ONE_HOP, "10.0.0.2", " , ", "10.0.0.2"),
    (ONE_HOP, "10.0.0.2", "203.0.113.7:4711", "10.0.0.2"),
    (ONE_HOP, "10.0.0.2", "fe80::1%eth0", "10.0.0.2"),
    (ONE_HOP, "10.0.0.2", "::ffff:203.0.113.7", "203.0.113.7"),
    (PROXY_NETS, "10.0.0.3", "1.1.1.1, bogus, 10.0.0.2", "10.0.0.3"),
    (NONE, "not-an-address", "", None),
]


@pytest.mark.parametrize(("trust", "remote", "forwarded", "expected"), CASES)
def test_client_address_table(
    trust: ProxyTrust, remote: str, forwarded: str, expected: str | None
) -> None:
    assert forwarded_client(remote, forwarded, trust) == expected


@pytest.mark.django_db
def test_rotating_the_left_entry_no_longer_bypasses_the_throttle(
    settings: Any, make_user: Any
) -> None:
    """Today: a new left-most X-Forwarded-For per attempt gave 12 x 401, then success."""
    settings.ROLEGATE_TRUSTED_PROXY_HOPS = 1
    make_user("bob")
    statuses = []
    for attempt in range(7):
        response = Client(REMOTE_ADDR="10.0.0.2").post(
            "/accounts/login/",
            {"username": "bob", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{attempt}, 203.0.113.7"},
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429] * 2
    assert set(AuditEvent.objects.values_list("client_ip", flat=True)) == {"203.0.113.7"}


@pytest.mark.django_db
@pytest.mark.parametrize("hops", [0, 1])
def test_garbage_forwarded_for_is_never_a_500(settings: Any, make_user: Any, hops: int) -> None:
    """Today `not-an-ip, 10.0.0.1` gave a 500 on web login and a 503 on the API."""
    settings.ROLEGATE_TRUSTED_PROXY_HOPS = hops
    make_user("bob")
    client = Client(REMOTE_ADDR="10.0.0.2", raise_request_exception=False)
    for header in ("not-an-ip, 10.0.0.1", "10.0.0.1, not-an-ip", "\u00e9", "1" * 300):
        web = client.post(
            "/accounts/login/",
            {"username": "bob", "password": "wrong"},
            headers={"X-Forwarded-For": header},
        )
        api = client.post(
            "/api/v1/auth/password",
            {"username": "bob", "password": "wrong"},
            content_type="application/json",
            headers={"X-Forwarded-For": header},
        )
        # Wrong passwords, counted for REMOTE_ADDR (or the right entry): 401, then throttled.
        assert web.status_code in (401, 429), header
        assert api.status_code in (401, 429), header
    assert set(AuditEvent.objects.values_list("client_ip", flat=True)) <= {"10.0.0.1", "10.0.0.2"}


@pytest.mark.django_db
def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(settings: Any) -> None:
    """SECURE_PROXY_SSL_HEADER with networks: only the proxies may claim https."""
    settings.ROLEGATE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    spoofed = Client(REMOTE_ADDR="203.0.113.9").get(
        "/accounts/login/", headers={"X-Forwarded-Proto": "https"}
    )
    assert spoofed.status_code == 301  # treated as plain http: redirected to https
    trusted = Client(REMOTE_ADDR="10.0.0.2").get(
        "/accounts/login/", headers={"X-Forwarded-Proto": "https"}
    )
    assert trusted.status_code == 200
