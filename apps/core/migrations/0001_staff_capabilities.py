"""Staff capabilities: the permissions, one group per capability, and today's staff mapped.

Every staff user that exists when this runs joins all three groups, so nobody loses access in the
upgrade; narrow them afterwards (README "Staff capabilities").
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def create_groups(apps: Any, schema_editor: Any) -> None:
    from django.contrib.auth.management import create_permissions

    from apps.core.capabilities import GROUPS

    # Default model permissions are normally created after all migrations; the groups need
    # them now.
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("accounts", "User")
    groups = []
    for name, (capability, model_permissions) in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [("core", capability)] + [tuple(p.split(".", 1)) for p in model_permissions]
        for app_label, codename in wanted:
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                group.permissions.add(permission)
        groups.append(group)
    for user in User.objects.filter(is_staff=True, is_superuser=False):
        user.groups.add(*groups)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "__first__"),
        # Pinned, not __latest__: a later migration of any of these apps must not make every
        # database that already applied this one inconsistent (InconsistentMigrationHistory).
        ("access", "0004_request_cancelled"),
        ("api", "0002_automation_token"),
        ("audit", "0005_merge_pending_outcome_and_keyed_chain"),
        ("authority", "0001_initial"),
        ("integrations", "0002_session_revocation"),
        ("resources", "0003_catalogversion"),
    ]

    operations = [
        migrations.CreateModel(
            name="Capability",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("audit_read", "Read and export the audit log"),
                    (
                        "access_admin",
                        "Manage roles, users' roles and traits, access requests, sessions",
                    ),
                    ("integration_admin", "Enroll and manage integrations and run syncs"),
                ],
            },
        ),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
