from __future__ import annotations

from collections.abc import Iterator

from django.apps import AppConfig
from prometheus_client.core import GaugeMetricFamily


class AccessConfig(AppConfig):
    name = "apps.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Hook role-name validation into user writes (user YAML, admin)."""
        from apps.access.kinds import validate_user_role_names
        from apps.core.hooks import role_name_validators

        if validate_user_role_names not in role_name_validators:
            role_name_validators.append(validate_user_role_names)

        from apps.core.metrics import register_stored_state_gauges

        register_stored_state_gauges(_pending_request_gauges)


def _pending_request_gauges() -> Iterator[GaugeMetricFamily]:
    """Access requests waiting for a review (read at scrape time)."""
    from apps.access.requests.models import AccessRequest

    pending = GaugeMetricFamily(
        "rolegate_access_requests_pending", "Access requests waiting for a review."
    )
    pending.add_metric([], AccessRequest.objects.filter(state="pending").count())
    yield pending
