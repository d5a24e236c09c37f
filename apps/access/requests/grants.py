"""Grants in force now: the one query every access decision rides on (assigned roles + these)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from apps.access.requests.models import AccessGrant
from apps.accounts.models import User


def granted_roles_query(user: User) -> QuerySet[AccessGrant, str]:
    """The names of the roles granted to the user and in force now, as a subquery.

    The end is compared with the clock here, at every decision, so a grant stops working at its
    end even if the beat task that marks it ended has not run yet.
    """
    return AccessGrant.objects.filter(
        user_id=user.pk, ended_at__isnull=True, ends_at__gt=timezone.now()
    ).values_list("role_name", flat=True)


def granted_role_names(user: User) -> list[str]:
    """Role names from the user's grants in force now (one query)."""
    if getattr(user, "pk", None) is None:
        return []
    return list(dict.fromkeys(granted_roles_query(user).order_by("starts_at")))
