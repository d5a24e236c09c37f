"""Writes for single sign-on: connector resources and the user update at each SSO login."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import OidcConnector, OidcIdentity, User
from apps.accounts.oidc.mapping import (
    ConnectorSpec,
    email_domain_refusal,
    normalize_claims,
    parse_connector_spec,
    roles_for_claims,
    sanitize_username,
)
from apps.accounts.oidc.provider import OidcError
from apps.audit import events
from apps.audit.services import audit_record
from apps.core.hooks import validate_role_names
from apps.core.identity import Actor
from apps.core.registry import ResourceError, ResourceExists, ResourceNotFound

__all__ = [
    "connector_rules",
    "oidc_connector_apply",
    "oidc_connector_delete",
    "sso_user_sync",
]


def oidc_connector_apply(
    *, actor: Actor, name: str, spec: object, force: bool = False
) -> OidcConnector:
    """Create (or with ``force`` replace) an ``oidc_connector`` and audit the change."""
    parsed = parse_connector_spec(spec)
    try:
        validate_role_names(parsed.role_names)
    except ResourceError as error:
        raise ResourceError(error.reason, field="spec.claims_to_roles") from None
    stored = parsed.to_dict()
    with transaction.atomic():
        connector = OidcConnector.objects.select_for_update().filter(name=name).first()
        if connector is not None and not force:
            raise ResourceExists(
                f"oidc_connector {name!r} already exists (use --force to replace it)"
            )
        before = dict(connector.spec) if connector else None
        if before == stored:
            assert connector is not None
            return connector
        if connector is None:
            connector = OidcConnector(name=name)
        connector.spec = stored
        connector.save()
        audit_record(
            event_type=events.OIDC_CONNECTOR_CREATED
            if before is None
            else events.OIDC_CONNECTOR_UPDATED,
            actor=actor,
            target_kind="oidc_connector",
            target_name=name,
            details={"before": before, "after": stored},
        )
    return connector


def oidc_connector_delete(*, actor: Actor, name: str) -> None:
    """Delete an ``oidc_connector`` and audit it."""
    with transaction.atomic():
        connector = OidcConnector.objects.select_for_update().filter(name=name).first()
        if connector is None:
            raise ResourceNotFound(f"oidc_connector {name!r} not found")
        before = dict(connector.spec)
        connector.delete()
        audit_record(
            event_type=events.OIDC_CONNECTOR_DELETED,
            actor=actor,
            target_kind="oidc_connector",
            target_name=name,
            details={"before": before},
        )


def connector_rules(name: str) -> ConnectorSpec:
    """The named connector's spec; an absent connector maps no roles."""
    connector = OidcConnector.objects.filter(name=name).first()
    if connector is None:
        return ConnectorSpec(display="", claims_to_roles=())
    return parse_connector_spec(connector.spec)


def _existing_roles(names: list[str]) -> tuple[list[str], list[str]]:
    kept: list[str] = []
    dropped: list[str] = []
    for name in names:
        try:
            validate_role_names([name])
        except ResourceError:
            dropped.append(name)
        else:
            kept.append(name)
    return kept, dropped


def _user_for_identity(*, issuer: str, subject: str, username: str) -> tuple[User, bool]:
    """The user bound to (issuer, subject), binding or creating one on first sign-in."""
    identity = OidcIdentity.objects.filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        return User.objects.select_for_update().get(pk=identity.user_id), False
    existing = User.objects.select_for_update().filter(username=username).first()
    if existing is not None:
        if OidcIdentity.objects.filter(user=existing).exists():
            raise OidcError(
                f"username {username!r} is bound to another single sign-on identity",
                username=username,
            )
        # A local account with a password belongs to someone who signs in with it; letting
        # whoever controls the IdP's username claim take it over would be an escalation.
        # Accounts an operator pre-created without a password (user YAML) are linked.
        if existing.has_usable_password():
            raise OidcError(
                f"username {username!r} belongs to a local account with a password",
                username=username,
            )
        user = existing
    else:
        user = User(username=username)
        user.set_unusable_password()
        user.save()
    try:
        with transaction.atomic():
            OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    except IntegrityError:
        # Two first sign-ins of one subject raced; the other one won.
        raise OidcError(
            "a concurrent sign-in is in progress; try again", username=username
        ) from None
    return user, existing is None


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "external_traits": dict(user.external_traits),
        "roles": list(user.roles),
        "email": user.email,
        "auth_source": user.auth_source,
    }


def sso_user_sync(*, issuer: str, claims: dict[str, Any]) -> User:
    """Find or create the user for verified claims and replace their external traits and roles.

    External traits become the configured claims (all, or ``ROLEGATE_OIDC_CLAIMS_ALLOWLIST``);
    roles become those the connector's ``claims_to_roles`` rules grant. Changes are audited with
    before and after. Raises OidcError (nothing written) when the claims are not acceptable.
    """
    subject = str(claims.get("sub", ""))
    claim_name = str(settings.ROLEGATE_OIDC_USERNAME_CLAIM)
    username = sanitize_username(claims.get(claim_name))
    hint = username or subject[:150]
    if username is None:
        raise OidcError(
            f"the identity provider sent no usable {claim_name!r} claim for the username",
            username=hint,
        )
    refusal = email_domain_refusal(claims, settings.ROLEGATE_OIDC_ALLOWED_EMAIL_DOMAINS)
    if refusal:
        raise OidcError(refusal, username=hint)
    connector_name = str(settings.ROLEGATE_OIDC_CONNECTOR)
    all_claims = normalize_claims(claims)
    traits = normalize_claims(claims, settings.ROLEGATE_OIDC_CLAIMS_ALLOWLIST)
    wanted_roles = roles_for_claims(connector_rules(connector_name).claims_to_roles, all_claims)
    roles, unknown_roles = _existing_roles(wanted_roles)
    email = claims.get("email")
    with transaction.atomic():
        user, created = _user_for_identity(issuer=issuer, subject=subject, username=username)
        if not user.is_active:
            raise OidcError("the account is disabled", username=user.get_username())
        before = None if created else _snapshot(user)
        user.external_traits = traits
        user.roles = roles
        user.auth_source = connector_name
        if isinstance(email, str) and 0 < len(email) <= 254 and "@" in email:
            user.email = email
        after = _snapshot(user)
        user.save()
        OidcIdentity.objects.filter(user=user).update(last_login_at=timezone.now())
        if before != after:
            details: dict[str, Any] = {"before": before, "after": after, "method": "oidc"}
            if unknown_roles:
                details["unknown_roles"] = unknown_roles
            audit_record(
                event_type=events.USER_CREATED if created else events.USER_SSO_UPDATED,
                actor=user,
                target_kind="user",
                target_name=user.get_username(),
                details=details,
            )
    return user
