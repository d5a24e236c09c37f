"""Hypothesis profiles for the access-engine properties.

"ci" runs 5,000 examples per property, as the issue requires (the default); "dev"
(HYPOTHESIS_PROFILE=dev) runs 300 for quick local loops. Tests apply the profile with the
`PROPERTY` decorator instead of `settings.load_profile`, so other packages' hypothesis tests
keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

PROFILE_NAME = "dev" if os.environ.get("HYPOTHESIS_PROFILE") == "dev" else "ci"
PROPERTY = settings(settings.get_profile(PROFILE_NAME))
