"""Every audit event type: one place, one tense (``noun.verb_past``), one target each.

The outcome (success, denied, error) is a separate column, so a refused issuance is
``aws_credentials.issued`` with outcome ``denied``, not a type of its own. Each constant's comment
says what ``target_kind``/``target_name`` name. README "Audit events" lists them; a test checks
that the README, this module and the code that writes events agree.

Rows written before these names existed keep their old type (the chain hashes it, so rewriting
it would break the chain); ``LEGACY_NAMES`` maps them, and the audit page and export show and
filter by the current name.
"""

# Names like "api_token.created" look like secrets to bandit's S105; they are event types.
# ruff: noqa: S105

from __future__ import annotations

# accounts
USER_SIGNED_IN = "user.signed_in"  # user/<username>; refusals too (outcome denied)
USER_CREATED = "user.created"  # user/<username>
USER_UPDATED = "user.updated"  # user/<username>
USER_SSO_UPDATED = "user.sso_updated"  # user/<username>: traits and roles from the IdP
USER_DELETED = "user.deleted"  # user/<username>
USER_PASSWORD_SET = "user.password_set"  # user/<username>
OIDC_CONNECTOR_CREATED = "oidc_connector.created"  # oidc_connector/<name>
OIDC_CONNECTOR_UPDATED = "oidc_connector.updated"  # oidc_connector/<name>
OIDC_CONNECTOR_DELETED = "oidc_connector.deleted"  # oidc_connector/<name>

# CLI tokens and device logins
API_TOKEN_CREATED = "api_token.created"  # api_token/<username>/<prefix>
API_TOKEN_REVOKED = "api_token.revoked"  # api_token/<username>/<prefix>
API_TOKENS_PURGED = "api_tokens.purged"  # api_token/expired: counts in details
AUTOMATION_TOKEN_CREATED = "automation_token.created"  # automation_token/<name>
AUTOMATION_TOKEN_REVOKED = "automation_token.revoked"  # automation_token/<name>
# automation_token/<name>: every call made with it (refused ones with outcome denied)
AUTOMATION_TOKEN_USED = "automation_token.used"
CLI_DEVICE_STARTED = "cli_device.started"  # client_address/<ip>: only refusals are recorded
CLI_DEVICE_APPROVED = "cli_device.approved"  # cli_device/<user code>
CLI_DEVICE_DENIED = "cli_device.denied"  # cli_device/<user code>

# access: roles and requests
ROLE_CREATED = "role.created"  # role/<name>
ROLE_UPDATED = "role.updated"  # role/<name>
ROLE_DELETED = "role.deleted"  # role/<name>
ACCESS_REQUEST_CREATED = "access_request.created"  # access_request/<id>, or the roles refused
ACCESS_REQUEST_REVIEWED = "access_request.reviewed"  # access_request/<id>
ACCESS_REQUEST_APPROVED = "access_request.approved"  # access_request/<id>
ACCESS_REQUEST_DENIED = "access_request.denied"  # access_request/<id>
ACCESS_REQUEST_EXPIRED = "access_request.expired"  # access_request/<id>
ACCESS_REQUEST_ENDED = "access_request.ended"  # access_request/<id>
ACCESS_REQUEST_CANCELLED = "access_request.cancelled"  # access_request/<id>: withdrawn

# AWS access
AWS_CREDENTIALS_REQUESTED = (
    "aws_credentials.requested"  # app/<name>: the intent, before CreateSession
)
AWS_CREDENTIALS_ISSUED = "aws_credentials.issued"  # app/<name>
AWS_CONSOLE_SIGNED_IN = "aws_console.signed_in"  # app/<name>

# certificate authority
CA_CREATED = "ca.created"  # certificate_authority/<fingerprint(s)>
CA_ROTATION_INITIATED = "ca.rotation_initiated"  # certificate_authority/<fingerprint(s)>
CA_ROTATION_ACTIVATED = "ca.rotation_activated"  # certificate_authority/<fingerprint(s)>
CA_ROTATION_FINISHED = "ca.rotation_finished"  # certificate_authority/<fingerprint(s)>
CA_ROTATION_ROLLED_BACK = "ca.rotation_rolled_back"  # certificate_authority/<fingerprint(s)>
CA_KEYS_REWRAPPED = "ca.keys_rewrapped"  # certificate_authority/<fingerprint(s)>
CA_CRL_REFRESHED = "ca.crl_refreshed"  # certificate_authority/<fingerprint(s)>
CERTIFICATE_REVOKED = "certificate.revoked"  # certificate/<serial>

# integrations
INTEGRATION_CREATED = "integration.created"  # integration/<name>
INTEGRATION_UPDATED = "integration.updated"  # integration/<name>
INTEGRATION_DELETED = "integration.deleted"  # integration/<name>
INTEGRATION_SYNC_REQUESTED = "integration.sync_requested"  # integration/<name>
INTEGRATION_PROFILES_SYNCED = "integration.profiles_synced"  # integration/<name>
INTEGRATION_SYNC_CERTIFICATE_ISSUED = "integration.sync_certificate_issued"  # integration/<name>
INTEGRATION_CRL_PUSHED = "integration.crl_pushed"  # integration/<name>

# live-session revocation
SESSIONS_REVOKED = "sessions.revoked"  # user/<username> or app/<name>
SESSIONS_REVOCATION_PUSHED = "sessions.revocation_pushed"  # integration/<name>
SESSIONS_REVOCATION_FAILED = "sessions.revocation_failed"  # integration/<name>

# requests refused before any view ran
REQUEST_INPUT_REFUSED = "request.input_refused"  # path/<path>: NUL or lone surrogate in JSON

# Old type -> current type, for rows written before this module existed.
LEGACY_NAMES: dict[str, str] = {
    "user.login": USER_SIGNED_IN,
    "access_request.create": ACCESS_REQUEST_CREATED,
    "access_request.review": ACCESS_REQUEST_REVIEWED,
    "access_request.approve": ACCESS_REQUEST_APPROVED,
    "access_request.deny": ACCESS_REQUEST_DENIED,
    "access_request.expire": ACCESS_REQUEST_EXPIRED,
    "access_request.end": ACCESS_REQUEST_ENDED,
    "aws.credentials.issued": AWS_CREDENTIALS_ISSUED,
    "aws.console.signin": AWS_CONSOLE_SIGNED_IN,
    "ca.rotation.init": CA_ROTATION_INITIATED,
    "ca.rotation.activate": CA_ROTATION_ACTIVATED,
    "ca.rotation.finish": CA_ROTATION_FINISHED,
    "ca.rotation.rollback": CA_ROTATION_ROLLED_BACK,
}


def all_event_types() -> list[str]:
    """Every current event type, sorted."""
    return sorted(
        value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, str) and "." in value
    )


def current_name(event_type: str) -> str:
    """The current name of a stored event type (old rows keep their old one)."""
    return LEGACY_NAMES.get(event_type, event_type)


def stored_names(event_type: str) -> list[str]:
    """Every stored spelling of ``event_type``: itself and the old names that map to it."""
    return [event_type, *(old for old, new in LEGACY_NAMES.items() if new == event_type)]
