from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.inventory.services import allocation_rule_create
from inventory_hub.observations.models import InventoryPosition, PositionChange
from inventory_hub.reconciliation import classify
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass, Hop
from inventory_hub.reconciliation.services import reconciliation_after_poll, reconciliation_run
from inventory_hub.reconciliation.tasks import reconciliation_sweep_task
from tests.factories import (
    ConnectorFactory,
    LocationFactory,
    LocationMappingFactory,
    PollRunFactory,
    PoolFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
SKU = "SKU-1"


@pytest.fixture
def retailer():
    """One store watched by a WMS (with a quarantine bin out of the pool), an ERP and a storefront."""
    location = LocationFactory(code="STORE-A")
    connectors = {
        "wms": ConnectorFactory(role="wms", adapter="shiphero", poll_interval_seconds=60),
        "erp": ConnectorFactory(role="erp", adapter="erpnext", poll_interval_seconds=300),
        "storefront": ConnectorFactory(role="storefront", adapter="shopify", poll_interval_seconds=120),
    }
    for role, connector in connectors.items():
        LocationMappingFactory(connector=connector, external_id=f"{role}-store-a", location=location)
    pool = PoolFactory()
    pool.locations.add(location)
    boundary = PoolBoundary.objects.create(pool=pool, connector=connectors["wms"])
    PoolBoundaryEntry.objects.create(boundary=boundary, external_location_id="wms-store-a", bin="")
    PoolBoundaryEntry.objects.create(
        boundary=boundary, external_location_id="wms-store-a", bin="QUARANTINE", included=False
    )
    allocation_rule_create(
        pool=pool,
        channel=None,
        values=RuleValues(safety_stock=2),
        author=UserFactory(),
        reason="Safety stock for the test",
        now=T0 - dt.timedelta(days=1),
    )
    return location, connectors


def _position(connector, location, *, on_hand, allocated=0, available=None, bin="", sku=SKU, at=T0):
    InventoryPosition.objects.update_or_create(
        connector=connector,
        location=location,
        sku=sku,
        bin=bin,
        defaults={
            "on_hand": on_hand,
            "allocated": allocated,
            "available": on_hand - allocated if available is None else available,
            "observed_at": at,
            "changed_at": at,
        },
    )


def _stock(retailer, *, wms_main, quarantine=0, wms_allocated=0, erp_actual, erp_reserved=0, shown, sku=SKU, at=T0):
    """WMS total + bins, ERP bin and storefront level (holding back `safety` like Shopify does)."""
    location, c = retailer
    _position(c["wms"], location, on_hand=wms_main + quarantine, allocated=wms_allocated, sku=sku, at=at)
    _position(c["wms"], location, on_hand=wms_main, bin="MAIN", sku=sku, at=at)
    _position(c["wms"], location, on_hand=quarantine, available=0, bin="QUARANTINE", sku=sku, at=at)
    _position(c["erp"], location, on_hand=erp_actual, allocated=erp_reserved, sku=sku, at=at)
    _position(c["storefront"], location, on_hand=shown + 2, allocated=0, available=shown, sku=sku, at=at)


def _open(hop=Hop.WMS_ERP) -> list[Discrepancy]:
    return list(Discrepancy.objects.filter(hop=hop, closed_at__isnull=True))


def test_hops_and_classes_of_the_pure_modules_are_the_models_choices():
    assert set(classify.HOPS) == set(Hop.values)
    assert {classify.IN_FLIGHT, classify.STALE, classify.BOUNDARY, classify.RULE, classify.DRIFT} == set(
        DiscrepancyClass.values
    )


def test_agreeing_systems_open_nothing(retailer):
    _stock(retailer, wms_main=10, erp_actual=10, shown=8)

    result = reconciliation_run(now=T0 + dt.timedelta(minutes=1))

    assert (result.keys, result.opened) == (1, 0)
    assert Discrepancy.objects.exists() is False


def test_opens_a_wms_erp_discrepancy_as_old_as_the_later_disagreeing_value(retailer):
    location, connectors = retailer
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=8)
    _position(connectors["wms"], location, on_hand=10, allocated=3, at=T0 + dt.timedelta(minutes=2))

    result = reconciliation_run(now=T0 + dt.timedelta(minutes=5))

    [discrepancy] = _open()
    assert result.opened == 2  # WMS → ERP, and end to end (the storefront still shows 8 − 2)
    assert (discrepancy.upstream_quantity, discrepancy.downstream_quantity, discrepancy.peak_gap) == (7, 10, 3)
    assert discrepancy.opened_at == T0 + dt.timedelta(minutes=2)
    assert discrepancy.classification == DiscrepancyClass.IN_FLIGHT


def test_running_again_changes_nothing_and_never_double_counts(retailer):
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6)
    reconciliation_run(now=T0 + dt.timedelta(minutes=5))
    before = list(Discrepancy.objects.order_by("pk").values())

    again = reconciliation_run(now=T0 + dt.timedelta(minutes=5))

    assert (again.opened, again.updated, again.closed) == (0, 0, 0)
    assert list(Discrepancy.objects.order_by("pk").values()) == before


def test_update_keeps_the_latest_quantities_and_the_peak_gap(retailer):
    _stock(retailer, wms_main=10, wms_allocated=5, erp_actual=10, shown=6)
    reconciliation_run(now=T0 + dt.timedelta(minutes=1))
    _stock(retailer, wms_main=10, wms_allocated=1, erp_actual=10, shown=6, at=T0 + dt.timedelta(minutes=2))

    result = reconciliation_run(now=T0 + dt.timedelta(minutes=3))

    [discrepancy] = _open()
    assert result.updated >= 1
    assert (discrepancy.upstream_quantity, discrepancy.downstream_quantity, discrepancy.peak_gap) == (9, 10, 5)
    assert discrepancy.opened_at == T0


def test_closes_when_the_systems_converge(retailer):
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=8)
    reconciliation_run(now=T0 + dt.timedelta(minutes=1))
    _stock(
        retailer, wms_main=10, wms_allocated=3, erp_actual=10, erp_reserved=3, shown=5, at=T0 + dt.timedelta(minutes=20)
    )

    result = reconciliation_run(now=T0 + dt.timedelta(minutes=21))

    discrepancy = Discrepancy.objects.get(hop=Hop.WMS_ERP)
    assert result.closed == 2
    assert discrepancy.closed_at == T0 + dt.timedelta(minutes=21)
    assert (discrepancy.upstream_quantity, discrepancy.downstream_quantity, discrepancy.peak_gap) == (7, 7, 3)
    assert _open(Hop.WMS_STOREFRONT) == []


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(15, DiscrepancyClass.IN_FLIGHT), (16, DiscrepancyClass.STALE), (61, DiscrepancyClass.DRIFT)],
)
def test_an_unexplained_gap_ages_past_three_erp_polls_into_stale_then_drift(retailer, minutes, expected):
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6)

    reconciliation_run(now=T0 + dt.timedelta(minutes=minutes))

    [discrepancy] = _open()
    assert discrepancy.classification == expected  # budget: 3 × the ERP's 5-minute poll interval


def test_lag_budget_can_be_overridden(retailer):
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6)

    result = reconciliation_run(now=T0 + dt.timedelta(minutes=30), lag_budget=dt.timedelta(hours=1))

    assert _open()[0].classification == DiscrepancyClass.IN_FLIGHT
    assert result.lag_budgets == dict.fromkeys(classify.HOPS, dt.timedelta(hours=1))


def test_default_lag_budgets_are_three_downstream_poll_intervals(retailer):
    result = reconciliation_run(now=T0)

    assert result.lag_budgets == {
        "wms_erp": dt.timedelta(minutes=15),
        "erp_storefront": dt.timedelta(minutes=6),
        "wms_storefront": dt.timedelta(minutes=21),
    }


def test_erp_counting_the_quarantine_bin_is_a_boundary_discrepancy(retailer):
    _stock(retailer, wms_main=10, quarantine=4, erp_actual=14, shown=12)

    reconciliation_run(now=T0 + dt.timedelta(days=2))

    [discrepancy] = _open()
    assert (discrepancy.upstream_quantity, discrepancy.downstream_quantity) == (10, 14)
    assert discrepancy.classification == DiscrepancyClass.BOUNDARY
    assert _open(Hop.WMS_STOREFRONT)[0].classification == DiscrepancyClass.BOUNDARY
    assert _open(Hop.ERP_STOREFRONT) == []


def test_storefront_with_its_own_safety_stock_is_a_rule_discrepancy_and_rule_drift(retailer):
    location, connectors = retailer
    _stock(retailer, wms_main=10, erp_actual=10, shown=8)
    _position(connectors["storefront"], location, on_hand=10, available=9)  # holds back 1, the rule says 2

    result = reconciliation_run(now=T0 + dt.timedelta(days=2))

    assert [(d.hop, d.classification) for d in Discrepancy.objects.order_by("hop")] == [
        (Hop.ERP_STOREFRONT, DiscrepancyClass.RULE),
        (Hop.WMS_STOREFRONT, DiscrepancyClass.RULE),
    ]
    assert [(d.location_id, d.effective_safety_stock, d.hub_safety_stock, d.skus) for d in result.rule_drifts] == [
        (location.pk, 1, 2, 1)
    ]


def test_incremental_run_looks_only_at_the_given_keys(retailer):
    location, _ = retailer
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6, sku="SKU-1")
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6, sku="SKU-2")

    result = reconciliation_run(keys=[(location.pk, "SKU-2")], now=T0)

    assert result.keys == 1
    assert [d.sku for d in _open()] == ["SKU-2"]


def test_reads_are_set_based_whatever_the_number_of_keys(retailer, django_assert_max_num_queries):
    location, _ = retailer
    for n in range(30):
        _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6, sku=f"SKU-{n}")

    with django_assert_max_num_queries(20):
        result = reconciliation_run(keys=[(location.pk, f"SKU-{n}") for n in range(30)], now=T0)

    assert result.opened == 90  # every hop of every key: the storefront follows neither


def test_after_poll_reconciles_the_keys_that_poll_changed(retailer):
    location, connectors = retailer
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6, sku="SKU-1")
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6, sku="SKU-2")
    run = PollRunFactory(connector=connectors["wms"], status="succeeded", finished_at=T0)
    PositionChange.objects.create(
        connector=connectors["wms"],
        location=location,
        sku="SKU-1",
        on_hand=10,
        allocated=3,
        available=7,
        incoming=0,
        changed_at=T0,
        poll_run=run,
    )

    result = reconciliation_after_poll(poll_run_id=run.pk, now=T0)

    assert result.keys == 1
    assert [d.sku for d in _open()] == ["SKU-1"]


def test_sweep_task_reconciles_every_key(retailer):
    _stock(retailer, wms_main=10, wms_allocated=3, erp_actual=10, shown=6)

    reconciliation_sweep_task.apply()

    assert [d.sku for d in _open()] == [SKU]
