"""Fixtures for the CA tests: a known encryption key and a clean signer cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

TEST_KEK = "authority-tests-key-encryption-key-0123456789abcdef"
OTHER_KEK = "a-different-key-encryption-key-that-is-long-enough-0987"


@pytest.fixture(autouse=True)
def ca_settings(settings: Any) -> Iterator[Any]:
    """Every CA test runs with a known KEK, no key file and a cold signer cache."""
    from apps.authority.services import forget_signers

    settings.ROLEGATE_CA_ENCRYPTION_KEY = TEST_KEK
    settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE = ""
    settings.ROLEGATE_CA_KEY_TYPE = "ecdsa-p256"
    settings.ROLEGATE_CA_VALIDITY_DAYS = 3650
    settings.ROLEGATE_CLUSTER_NAME = "example-cluster"
    forget_signers()
    yield settings
    forget_signers()
