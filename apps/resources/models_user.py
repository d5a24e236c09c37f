"""Per-user Resources page state: pinned apps and when each app was last launched."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AppUserState(models.Model):
    """One user's pin and last launch for one app.

    Keyed by the app's name rather than a foreign key: the profile sync may delete and later
    re-create an app (profile disabled then re-enabled), and the user's pin should survive that.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_states"
    )
    app_name = models.CharField(max_length=255)
    pinned = models.BooleanField(default=False)
    last_launched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "resources"
        constraints = [
            models.UniqueConstraint(fields=["user", "app_name"], name="appuserstate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.app_name}"
