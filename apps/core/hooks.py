"""Extension points between apps that must not import each other at module load."""

from __future__ import annotations

from collections.abc import Callable

# Each validator receives role names and raises apps.core.registry.ResourceError for unknown ones.
# apps.access appends its validator in AppConfig.ready().
role_name_validators: list[Callable[[list[str]], None]] = []


def validate_role_names(names: list[str]) -> None:
    """Run every registered role-name validator."""
    for validator in role_name_validators:
        validator(names)
