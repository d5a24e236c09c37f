"""The names of the integrations' Celery tasks (defined in ``tasks.py``, queued by services)."""

from __future__ import annotations

SYNC_ALL_INTEGRATIONS = "apps.integrations.tasks.sync_all_integrations"
SYNC_INTEGRATION = "apps.integrations.tasks.sync_integration"
PUSH_SESSION_REVOCATIONS = "apps.integrations.tasks.push_session_revocations"
RECONCILE_SESSION_REVOCATIONS = "apps.integrations.tasks.reconcile_session_revocations"
PUSH_INTEGRATION_CRL = "apps.integrations.tasks.push_integration_crl"
REFRESH_CRL = "apps.integrations.tasks.refresh_crl"
