"""From a Roles Anywhere profile to an app: the name sanitizer and the labels. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping

from apps.core.errors import DomainError
from rbac.labels import LABEL_PREFIX

NAME_OVERRIDE_TAGS = ("RolegateApplicationName", "TeleportApplicationName")
LABEL_PROFILE_ARN = f"{LABEL_PREFIX}aws-roles-anywhere-profile-arn"
LABEL_INTEGRATION = f"{LABEL_PREFIX}integration"
LABEL_ACCOUNT_ID = f"{LABEL_PREFIX}account-id"
LABEL_AWS_ACCOUNT_ID = "aws_account_id"
TAG_LABEL_PREFIX = "aws/"
APP_NAME_MAX = 255

_INVALID = re.compile(r"[^a-z0-9.-]", re.ASCII)


class AppNameError(DomainError, ValueError):
    """A profile name (or name tag) that cannot be turned into an app name.

    The sync records it as that profile's error (the profile gets no app); 400 ``invalid_app_name``
    wherever a surface shows it.
    """

    code = "invalid_app_name"
    status = 400


def sanitize_app_name(raw: str) -> str:
    """Turn a profile name into a DNS-style app name part, as the reference system does.

    Lower-case; `_`, spaces and every other character outside `[a-z0-9.-]` become `-`
    (`foo__bar` -> `foo--bar`); dots are kept; each dot-separated part loses its leading and
    trailing `-`, so `_x` -> `x` and `env_.prod_` -> `env.prod`. A name with nothing left
    (`___`) is an error.
    """
    replaced = _INVALID.sub("-", raw.lower())
    parts = [part.strip("-") for part in replaced.split(".")]
    parts = [part for part in parts if part]
    if not parts:
        raise AppNameError(f"profile name {raw!r} has no letters or digits to build an app name")
    return ".".join(parts)


def app_name_for(profile_name: str, tags: Mapping[str, str], integration_name: str) -> str:
    """Return `<sanitized profile name or name tag>-<integration>`.

    The integration suffix is kept even with a name tag, so one profile's tag cannot pick a
    name that belongs to another integration's app.
    """
    base = profile_name
    for tag in NAME_OVERRIDE_TAGS:
        value = tags.get(tag)
        if value is not None and value.strip():
            base = value
            break
    name = f"{sanitize_app_name(base)}-{integration_name}"
    if len(name) > APP_NAME_MAX:
        raise AppNameError(
            f"app name {name[:60]!r}... is longer than {APP_NAME_MAX} characters; shorten the "
            f"profile name or set a shorter {NAME_OVERRIDE_TAGS[0]} tag"
        )
    return name


def app_labels(
    *, tags: Mapping[str, str], account_id: str, integration_name: str, profile_arn: str
) -> dict[str, str]:
    """Labels of a synced app: `aws/<TagKey>` per profile tag plus the Rolegate labels."""
    labels = {f"{TAG_LABEL_PREFIX}{key}": value for key, value in tags.items()}
    labels[LABEL_AWS_ACCOUNT_ID] = account_id
    labels[LABEL_ACCOUNT_ID] = account_id
    labels[LABEL_INTEGRATION] = integration_name
    labels[LABEL_PROFILE_ARN] = profile_arn
    return dict(sorted(labels.items()))
