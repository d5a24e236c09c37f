"""The browser tests reuse the URL matrix's world: the guide's scenario and every persona."""

from __future__ import annotations

from tests.resources.conftest import launch_scenario  # noqa: F401 - fixture
from tests.security.conftest import world  # noqa: F401 - fixture
