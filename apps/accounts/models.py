"""Users with traits and role assignments."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who can sign in; roles and traits decide which AWS roles they may assume."""

    # Internal traits: name -> list of strings, set by operators (user YAML, admin).
    traits = models.JSONField(default=dict, blank=True)
    # External traits: replaced at every SSO login from the identity provider's claims.
    external_traits = models.JSONField(default=dict, blank=True)
    # Names of the roles assigned to the user (validated against apps.access roles).
    roles = models.JSONField(default=list, blank=True)
    # Where the account comes from: "local" (password) or an SSO connector's name.
    auth_source = models.CharField(max_length=100, default="local")

    class Meta:
        ordering = ("username",)

    def __str__(self) -> str:
        return self.get_username()


class OidcConnector(models.Model):
    """An ``oidc_connector`` resource: how identity-provider claims map to Rolegate roles."""

    name = models.CharField(max_length=63, unique=True)
    # The validated ``spec:`` of the YAML document (``claims_to_roles`` rules, display name).
    spec = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class OidcIdentity(models.Model):
    """The identity-provider subject (issuer + sub) a single sign-on user is bound to."""

    # Users are found by subject, never by username or e-mail: a reused or renamed username
    # claim at the IdP must not sign in as somebody else.
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="oidc_identity")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("issuer", "subject"), name="oidc_identity_unique_sub")
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"
