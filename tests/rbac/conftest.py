"""Access-engine tests: registers the hypothesis profiles ("ci": 5,000 examples, "dev": 300)."""

from __future__ import annotations

from tests.rbac import profiles  # noqa: F401  (registers the profiles at collection time)
