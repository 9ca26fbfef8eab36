"""Re-sync the role groups: ExposureSample, PoolChange and WebhookDelivery arrived after 0003."""

from __future__ import annotations

from django.db import migrations

from inventory_hub.core.roles import roles_sync


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_roles_refresh"),
        ("inventory", "0002_pool_change"),
        ("reconciliation", "0005_discrepancy_opened_id"),
        ("webhooks", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
