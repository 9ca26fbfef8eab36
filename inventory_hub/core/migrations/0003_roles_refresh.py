"""Re-sync the role groups: HopLagSample (and the cursor/poll changes) arrived after 0002_roles."""

from __future__ import annotations

from django.db import migrations

from inventory_hub.core.roles import roles_sync


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_roles"),
        ("connectors", "0003_poll_cursors"),
        ("observations", "0002_history_without_fk_checks"),
        ("reconciliation", "0002_hoplagsample"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
