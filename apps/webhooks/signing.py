"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"`` with the endpoint's secret.

Receivers recompute it (README "Webhooks" has the snippet), compare in constant time, and refuse
timestamps older than a few minutes, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Rolegate-Signature"
TIMESTAMP_HEADER = "X-Rolegate-Timestamp"
EVENT_HEADER = "X-Rolegate-Event"
DELIVERY_HEADER = "X-Rolegate-Delivery"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: ``sha256=<hex>``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: int, body: bytes, header: str, *, now: int, tolerance: int = 300
) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` and the timestamp is recent."""
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
