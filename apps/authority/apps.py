from __future__ import annotations

from collections.abc import Iterator

from django.apps import AppConfig
from prometheus_client.core import GaugeMetricFamily


class AuthorityConfig(AppConfig):
    name = "apps.authority"
    label = "authority"
    verbose_name = "Certificate authority"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.authority import checks  # noqa: F401  (registers the system checks)
        from apps.core.metrics import register_stored_state_gauges

        register_stored_state_gauges(_ca_expiry_gauges)


def _ca_expiry_gauges() -> Iterator[GaugeMetricFamily]:
    """When each trusted CA certificate expires (read at scrape time)."""
    from apps.authority.models import CertificateAuthority

    expiry = GaugeMetricFamily(
        "rolegate_ca_certificate_expiry_timestamp_seconds",
        "When each trusted CA certificate expires (Unix time).",
        labels=["state", "serial"],
    )
    for state, serial, not_after in CertificateAuthority.objects.filter(
        state__in=CertificateAuthority.TRUSTED_STATES
    ).values_list("state", "serial_hex", "not_after"):
        expiry.add_metric([state, serial], not_after.timestamp())
    yield expiry
