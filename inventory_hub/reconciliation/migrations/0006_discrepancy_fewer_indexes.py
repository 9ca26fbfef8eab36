# Two of the discrepancy's seven indexes cost every write and served no read (issue 5 item 8):
# the location FK's own index (discrepancy_location_sku starts with location_id) and the user FK's
# (acknowledged_by is NULL on almost every row, yet each was indexed): now indexed only where set.
#
# Only the indexes are dropped. AlterField with db_index=False would also drop and re-add both
# foreign keys, and re-adding one validates every row of the table under lock.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "reconciliation_discrepancy"
# The names Django gave the FK indexes (0001_initial), on PostgreSQL and SQLite alike.
FK_INDEXES = {
    "acknowledged_by_id": "reconciliation_discrepancy_acknowledged_by_id_a927d785",
    "location_id": "reconciliation_discrepancy_location_id_42f7b656",
}


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0002_pool_change"),
        ("reconciliation", "0005_discrepancy_opened_id"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="discrepancy",
                    name="acknowledged_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="discrepancy",
                    name="location",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="discrepancies",
                        to="inventory.location",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")',
                )
                for column, name in FK_INDEXES.items()
            ],
        ),
        migrations.AddIndex(
            model_name="discrepancy",
            index=models.Index(
                condition=models.Q(("acknowledged_by__isnull", False)),
                fields=["acknowledged_by"],
                name="discrepancy_acknowledged_by",
            ),
        ),
    ]
