"""Create the three role groups with their permissions.

A later migration that adds models (or permissions) calls roles_sync again with its own
dependencies, so the groups always match inventory_hub.core.roles.
"""

from __future__ import annotations

from django.db import migrations

from inventory_hub.core.roles import roles_sync


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0001_initial"),
        ("connectors", "0002_initial"),
        ("observations", "0001_initial"),
        ("reconciliation", "0001_initial"),
        ("tracing", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
