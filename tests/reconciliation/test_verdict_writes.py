"""An incremental run's statements apply their own writes on PostgreSQL (verdicts.key_verdict_list,
apply_writes) and count what they wrote; the discrepancy table keeps only the indexes reads use."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction

from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import selectors, services, verdicts
from inventory_hub.reconciliation.models import Discrepancy
from tests.factories import ConnectorFactory, LocationFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def systems():
    connectors = {
        role: ConnectorFactory(role=role, adapter=adapter)
        for role, adapter in (("wms", "shiphero"), ("erp", "erpnext"), ("storefront", "shopify"))
    }
    return LocationFactory(), connectors


def _positions(location, connectors, sku: str, *, wms: int, erp: int, shown: int) -> None:
    at = NOW - dt.timedelta(hours=1)
    for role, value in (("wms", wms), ("erp", erp), ("storefront", shown)):
        InventoryPosition.objects.update_or_create(
            connector=connectors[role],
            location=location,
            sku=sku,
            bin="",
            defaults={"on_hand": value, "allocated": 0, "available": value, "observed_at": at, "changed_at": at},
        )


def _verdicts(keys, *, apply_writes: bool) -> verdicts.KeyVerdicts:
    connectors = selectors.reconciliation_connector_list()
    return verdicts.key_verdict_list(
        keys=keys,
        connectors=connectors,
        excluded_bins={},
        rules={},
        budgets=services.hop_lag_budgets(connectors=connectors),
        now=NOW,
        apply_writes=apply_writes,
    )


def test_an_incremental_statement_applies_its_writes_on_postgresql_and_lists_them_elsewhere(systems):
    location, connectors = systems
    _positions(location, connectors, "MENDED", wms=5, erp=5, shown=7)
    _positions(location, connectors, "CHANGED", wms=5, erp=5, shown=8)
    services.reconciliation_run(now=NOW)  # opens two discrepancies on each (ERP → and WMS → storefront)
    _positions(location, connectors, "MENDED", wms=5, erp=5, shown=5)
    _positions(location, connectors, "CHANGED", wms=5, erp=5, shown=9)
    _positions(location, connectors, "BROKEN", wms=5, erp=4, shown=5)
    keys = [(location.pk, sku) for sku in ("MENDED", "CHANGED", "BROKEN")]

    found = _verdicts(keys, apply_writes=True)

    expected = {verdicts.CREATE: 2, verdicts.UPDATE: 2, verdicts.CLOSE: 2}
    if connection.vendor == "postgresql":
        assert found.writes == []
        assert found.applied == expected
        open_now = Discrepancy.objects.filter(closed_at__isnull=True)
        assert sorted(open_now.values_list("sku", "hop", "downstream_quantity", "peak_gap")) == [
            ("BROKEN", "erp_storefront", 5, 1),
            ("BROKEN", "wms_erp", 4, 1),
            ("CHANGED", "erp_storefront", 9, 4),
            ("CHANGED", "wms_storefront", 9, 4),
        ]
        assert Discrepancy.objects.filter(sku="MENDED", closed_at=NOW).count() == 2
    else:  # SQLite: no INSERT in a WITH; services' writer applies them
        assert found.applied == {}
        assert {action: sum(w.action == action for w in found.writes) for action in expected} == expected


def test_a_key_with_only_open_discrepancies_counts_as_the_per_key_path_counts_it(systems):
    location, connectors = systems
    _positions(location, connectors, "GONE", wms=5, erp=5, shown=7)
    _positions(location, connectors, "HERE", wms=5, erp=5, shown=7)
    services.reconciliation_run(now=NOW)
    InventoryPosition.objects.filter(sku="GONE").delete()  # no system reports it any more
    keys = [(location.pk, "GONE"), (location.pk, "HERE"), (location.pk, "NEVER-SEEN")]

    results = []
    for in_sql in (True, False):
        with transaction.atomic():
            result = services._reconciliation_run(keys=keys, now=NOW, lag_budget=None, in_sql=in_sql)
            state = sorted(Discrepancy.objects.values_list("sku", "hop", "closed_at", "classification"))
            transaction.set_rollback(True)
        results.append((result, state))

    (in_sql, in_sql_state), (per_key, per_key_state) = results
    assert in_sql == per_key
    assert in_sql.keys == 2  # GONE (its open discrepancies stay open) and HERE
    assert in_sql_state == per_key_state


def test_discrepancy_foreign_keys_are_indexed_only_where_reads_need_them(systems):
    location, connectors = systems
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Discrepancy._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}

    assert ("location_id",) not in indexed  # discrepancy_location_sku starts with it
    assert ("location_id", "sku", "opened_at") in indexed
    assert constraints["discrepancy_acknowledged_by"]["columns"] == ["acknowledged_by_id"]  # only where set
    # Deleting a user still clears their acknowledgements.
    _positions(location, connectors, "SKU", wms=5, erp=5, shown=7)
    services.reconciliation_run(now=NOW)
    user = UserFactory()
    discrepancy = Discrepancy.objects.first()
    services.discrepancy_acknowledge(discrepancy=discrepancy, user=user, note="on it", now=NOW)
    user.delete()
    discrepancy.refresh_from_db()
    assert discrepancy.acknowledged_by_id is None
