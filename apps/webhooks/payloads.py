"""What a webhook says about an event: Rolegate JSON, or a Slack incoming-webhook message.

Which audit events are webhook events, under which name, lives here too. Slack messages link to
the request's review page; approving still needs a signed-in reviewer there (a bare approve link
in a chat channel would let anyone who can read the channel, or its previews, approve).
"""

from __future__ import annotations

from typing import Any

from apps.audit import events
from apps.audit.models import AuditEvent

ACCESS_REQUEST_TYPES = (
    events.ACCESS_REQUEST_CREATED,
    events.ACCESS_REQUEST_APPROVED,
    events.ACCESS_REQUEST_DENIED,
    events.ACCESS_REQUEST_EXPIRED,
    events.ACCESS_REQUEST_ENDED,
)
ISSUANCE_DENIED = "aws_credentials.denied"
WEBHOOK_EVENT_TYPES = (
    *ACCESS_REQUEST_TYPES,
    ISSUANCE_DENIED,
    events.INTEGRATION_SYNC_FAILED,
    events.INTEGRATION_SYNC_RECOVERED,
    events.CA_EXPIRY_WARNED,
    events.SESSIONS_REVOKED,
)


def webhook_type(event_type: str, outcome: str) -> str | None:
    """The webhook event an audit event is, or None."""
    if event_type == events.AWS_CREDENTIALS_ISSUED:
        return ISSUANCE_DENIED if outcome == "denied" else None
    if event_type == events.ACCESS_REQUEST_CREATED and outcome != "success":
        return None
    return event_type if event_type in WEBHOOK_EVENT_TYPES else None


def json_payload(
    *, kind: str, event: AuditEvent, delivery_id: int | None, public_url: str
) -> dict[str, Any]:
    """The Rolegate JSON body."""
    payload: dict[str, Any] = {
        "type": kind,
        "event_id": event.id,
        "time": event.time.isoformat(),
        "outcome": event.outcome,
        "actor": event.actor_name,
        "target": {"kind": event.target_kind, "name": event.target_name},
        "details": event.details,
    }
    link = review_link(event, public_url)
    if link:
        payload["links"] = {"review": link}
    return payload


def review_link(event: AuditEvent, public_url: str) -> str:
    """The web page of the access request an event is about ("" for others)."""
    if event.target_kind != "access_request" or not event.target_name:
        return ""
    return f"{public_url.rstrip('/')}/requests/{event.target_name}/"


_TITLES = {
    events.ACCESS_REQUEST_CREATED: "New access request",
    events.ACCESS_REQUEST_APPROVED: "Access request approved",
    events.ACCESS_REQUEST_DENIED: "Access request denied",
    events.ACCESS_REQUEST_EXPIRED: "Access request expired",
    events.ACCESS_REQUEST_ENDED: "Access ended",
    ISSUANCE_DENIED: "AWS credentials refused",
    events.INTEGRATION_SYNC_FAILED: "Profile sync failing",
    events.INTEGRATION_SYNC_RECOVERED: "Profile sync recovered",
    events.CA_EXPIRY_WARNED: "Certificate authority nearing expiry",
    events.SESSIONS_REVOKED: "AWS sessions revoked",
}


def _escape(text: str) -> str:
    # Slack's mrkdwn: &, < and > must be escaped or they become links and mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(*, kind: str, event: AuditEvent, public_url: str) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` plus Block Kit blocks)."""
    title = _TITLES.get(kind, kind)
    details = event.details or {}
    facts = [("Who", event.actor_name), (event.target_kind or "target", event.target_name)]
    if details.get("roles"):
        facts.append(("Roles", ", ".join(map(str, details["roles"]))))
    for key in ("reason", "comment", "duration", "error", "not_after"):
        if details.get(key):
            facts.append((key.capitalize(), str(details[key])))
    text = _escape(f"{title}: {event.target_kind}/{event.target_name} by {event.actor_name}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{_escape(label)}*\n{_escape(str(value))[:500]}"}
                for label, value in facts[:10]
            ],
        },
    ]
    link = review_link(event, public_url)
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Rolegate"},
                        "url": link,
                    }
                ],
            }
        )
        text += f" <{link}|review>"
    return {"text": text, "blocks": blocks}
