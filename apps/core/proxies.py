"""The client's address behind reverse proxies, and which proxy headers may be believed.

Proxies *append* to ``X-Forwarded-For``: whatever the client sent comes first, each proxy adds
the address it received the connection from. So the only entries worth anything are on the right,
written by proxies we trust; the left-most entry is whatever the client wants it to be.

Two ways to say which proxies are trusted (``ROLEGATE_TRUSTED_PROXY_HOPS`` or
``ROLEGATE_TRUSTED_PROXIES``):

- *hops*: exactly N trusted proxies sit in front of Rolegate, so the client is the N-th entry
  from the right (one hop: the last entry, the address the outermost proxy saw);
- *networks*: the direct peer must be in one of the networks, and the client is the right-most
  entry that is not (walking left over trusted proxies).

Anything malformed (a missing or unparsable entry, fewer entries than hops) falls back to the
connection's own address, ``REMOTE_ADDR``: never an exception, never a guess.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(value: str | None) -> str | None:
    """The address in canonical text form, or None when ``value`` is not a plain IP address."""
    if not value:
        return None
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A zone id ("fe80::1%eth0") is not storable as an inet and means nothing off the host.
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDR networks (``10.0.0.0/8``, ``::1``); raises ValueError naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


@dataclass(frozen=True)
class ProxyTrust:
    """Which proxies are trusted: none, a number of hops, or a set of networks."""

    hops: int = 0
    networks: tuple[Network, ...] = ()

    @property
    def enabled(self) -> bool:
        """True when some proxy is trusted at all."""
        return bool(self.hops or self.networks)

    def is_trusted(self, address: str | None) -> bool:
        """True when ``address`` belongs to a trusted proxy network."""
        if address is None:
            return False
        parsed = ipaddress.ip_address(address)
        return any(parsed in network for network in self.networks)

    def peer_is_trusted(self, remote_addr: str | None) -> bool:
        """True when the direct peer may set forwarding headers."""
        if self.networks:
            return self.is_trusted(remote_addr)
        return self.hops > 0


def current_trust() -> ProxyTrust:
    """The trust configured in settings (``ROLEGATE_TRUSTED_PROXY_HOPS`` / ``_PROXIES``)."""
    networks = tuple(getattr(settings, "ROLEGATE_TRUSTED_PROXIES", ()) or ())
    return _trust(int(getattr(settings, "ROLEGATE_TRUSTED_PROXY_HOPS", 0)), networks)


@functools.lru_cache(maxsize=8)
def _trust(hops: int, networks: tuple[str, ...]) -> ProxyTrust:
    return ProxyTrust(hops=hops, networks=parse_networks(networks))


def forwarded_client(remote_addr: str | None, forwarded_for: str, trust: ProxyTrust) -> str | None:
    """The client address given the peer, the X-Forwarded-For value and the trust."""
    peer = parse_address(remote_addr)
    if not trust.enabled or not forwarded_for.strip() or not trust.peer_is_trusted(peer):
        return peer
    entries: Sequence[str] = [entry.strip() for entry in forwarded_for.split(",")]
    if trust.networks:
        # Walk left over trusted proxies; the first untrusted address is the client.
        candidate = peer
        for entry in reversed(entries):
            address = parse_address(entry)
            if address is None:
                return peer
            candidate = address
            if not trust.is_trusted(address):
                return address
        return candidate
    if len(entries) < trust.hops:
        return peer
    return parse_address(entries[-trust.hops]) or peer


def client_address(request: HttpRequest) -> str | None:
    """The client's address for audit rows, throttles and rate limits."""
    return forwarded_client(
        request.META.get("REMOTE_ADDR"),
        str(request.META.get("HTTP_X_FORWARDED_FOR", "")),
        current_trust(),
    )
