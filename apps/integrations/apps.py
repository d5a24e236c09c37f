from __future__ import annotations

from collections.abc import Iterator

from django.apps import AppConfig
from prometheus_client.core import GaugeMetricFamily


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the tasks (services queue them by name) and the kill switch, and push a
        changed CRL (a revoked leaf, a re-signed list) to every trust anchor at once."""
        from apps.core.hooks import crl_change_listeners, register_session_revocation
        from apps.integrations import tasks  # noqa: F401  (registers the Celery tasks)
        from apps.integrations.revocation.services import KillSwitch

        register_session_revocation(KillSwitch())
        from apps.integrations.services.crl import crl_push_soon

        if crl_push_soon not in crl_change_listeners:
            crl_change_listeners.append(crl_push_soon)

        from apps.core.metrics import register_stored_state_gauges

        register_stored_state_gauges(_app_count_gauges)


def _app_count_gauges() -> Iterator[GaugeMetricFamily]:
    """AWS apps (synced profiles) per integration (read at scrape time)."""
    from django.db.models import Count

    from apps.integrations.models import Integration

    apps = GaugeMetricFamily(
        "rolegate_apps", "AWS apps (synced profiles) per integration.", labels=["integration"]
    )
    for name, count in Integration.objects.annotate(total=Count("apps")).values_list(
        "name", "total"
    ):
        apps.add_metric([name], count)
    yield apps
