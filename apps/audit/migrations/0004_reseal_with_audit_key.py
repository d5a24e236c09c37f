"""Reseal a chain sealed before audit keys existed: verify its SHA-256 links, then key them."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def reseal(apps: Any, schema_editor: Any) -> None:
    from apps.audit.chain import reseal_legacy_links

    reseal_legacy_links(
        apps.get_model("audit", "AuditChainLink"), apps.get_model("audit", "AuditEvent")
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_auditchainlink_key_id")]

    operations = [migrations.RunPython(reseal, migrations.RunPython.noop)]
