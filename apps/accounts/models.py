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
