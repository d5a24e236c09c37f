"""Fixtures for the reliability tests: the sandbox account of the profile-sync tests and the
guide's launch scenario, reused from their packages."""

from __future__ import annotations

from tests.integrations.conftest import account, create_integration, sync_settings  # noqa: F401
from tests.resources.conftest import LaunchScenario, launch_scenario  # noqa: F401
