"""A sandbox day polled through the real adapters, then reconciled: the hub's discrepancies agree with the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.dashboard.demo import sandbox_backfill_run
from inventory_hub.inventory.models import Location
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.reconciliation.services import reconciliation_run
from inventory_hub.sandbox.scenario import load_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def reconciled_day():
    run = sandbox_backfill_run(scenario=load_scenario("two-stores-and-an-fc"), days=1, step=dt.timedelta(hours=6))
    simulation, connectors = run.simulation, run.connectors

    result = reconciliation_run(now=simulation.world.now)

    return simulation.world, connectors, result


def _codes() -> dict[int, str]:
    return dict(Location.objects.values_list("pk", "code"))


def _open(hop: str) -> dict[tuple[str, str], Discrepancy]:
    codes = _codes()
    return {(codes[d.location_id], d.sku): d for d in Discrepancy.objects.filter(hop=hop, closed_at__isnull=True)}


def _sandbox_wms_erp_gaps(world) -> dict[tuple[str, str], tuple[int, int]]:
    """(location, SKU) → (WMS sellable on hand − allocated, ERP actual − reserved) where they differ."""
    gaps = {}
    for key, product in world.wms_products.items():
        erp_bin = world.erp_bins[key]
        wms = product.on_hand - product.non_sellable - product.allocated
        erp = int(erp_bin.actual_qty - erp_bin.reserved_qty)
        if wms != erp:
            gaps[key] = (wms, erp)
    return gaps


def test_opens_a_wms_erp_discrepancy_exactly_where_the_sandbox_erp_differs_from_its_wms(reconciled_day):
    world, _, _ = reconciled_day

    opened = _open("wms_erp")

    expected = _sandbox_wms_erp_gaps(world)
    assert expected  # the day leaves the ERP behind somewhere, or the test proves nothing
    assert {key: (d.upstream_quantity, d.downstream_quantity) for key, d in opened.items()} == expected


def test_erp_counting_a_non_empty_quarantine_bin_is_classified_boundary(reconciled_day):
    world, _, _ = reconciled_day
    boundary_keys = {
        key
        for key, product in world.wms_products.items()
        if product.non_sellable > 0
        and world.erp_bins[key].actual_qty == product.on_hand
        and world.erp_bins[key].reserved_qty == product.allocated
    }

    opened = _open("wms_erp")

    assert boundary_keys  # STORE-A's ERP counts its quarantine bin
    assert {key for key in boundary_keys if opened[key].classification == "boundary"} == boundary_keys
    assert {key for key, d in opened.items() if d.classification == "boundary"} == boundary_keys
    assert {key[0] for key in boundary_keys} == {"STORE-A"}


def test_storefront_holding_back_less_safety_stock_than_the_rule_is_rule_drift_and_rule_class(reconciled_day):
    world, _, result = reconciled_day
    codes = _codes()
    own_safety_keys = {
        key
        for key, level in world.shop_levels.items()
        if key[0] == "STORE-B"
        and level.quantities["available"] > 0
        and level.quantities["available"] == _erp(world, key) - 1
    }

    drifts = {(codes[d.location_id], d.effective_safety_stock, d.hub_safety_stock) for d in result.rule_drifts}
    rule_keys = {key for key, d in _open("erp_storefront").items() if d.classification == "rule"}

    assert drifts == {("STORE-B", 1, 2)}  # the scenario's STORE-B storefront holds back 1, the rule says 2
    assert own_safety_keys
    assert rule_keys == own_safety_keys


def test_running_again_on_the_same_data_changes_nothing(reconciled_day):
    world, _, first = reconciled_day
    before = list(Discrepancy.objects.order_by("pk").values())

    again = reconciliation_run(now=world.now)

    assert (again.opened, again.updated, again.closed) == (0, 0, 0)
    assert again.open_by_class == first.open_by_class
    assert list(Discrepancy.objects.order_by("pk").values()) == before


def test_a_converged_key_closes_with_its_duration_and_peak_gap(reconciled_day):
    world, connectors, _ = reconciled_day
    key, discrepancy = next((key, d) for key, d in sorted(_open("wms_erp").items()) if d.classification != "boundary")
    product = world.wms_products[key]
    InventoryPosition.objects.filter(connector=connectors["erp"], location__code=key[0], sku=key[1]).update(
        on_hand=product.on_hand - product.non_sellable, allocated=product.allocated
    )
    later = world.now + dt.timedelta(minutes=30)
    # The gap is as old as the later of the values that disagreed: when the hub first saw it.
    opened_when_seen = max(
        InventoryPosition.objects.filter(
            connector__in=[connectors["wms"], connectors["erp"]], location__code=key[0], sku=key[1]
        ).values_list("changed_at", flat=True)
    )

    result = reconciliation_run(keys=[(discrepancy.location_id, key[1])], now=later)

    discrepancy.refresh_from_db()
    assert result.closed >= 1  # the ERP → storefront hop of the key may converge with it
    assert discrepancy.opened_at == opened_when_seen
    assert discrepancy.closed_at == later
    assert discrepancy.peak_gap == abs(product.on_hand - product.non_sellable - product.allocated - _erp(world, key))
    assert (discrepancy.upstream_quantity, discrepancy.downstream_quantity) == (
        product.on_hand - product.non_sellable - product.allocated,
    ) * 2
    assert (
        Discrepancy.objects.filter(
            hop="wms_erp", location_id=discrepancy.location_id, sku=key[1], closed_at=None
        ).exists()
        is False
    )


def _erp(world, key) -> int:
    erp_bin = world.erp_bins[key]
    return int(erp_bin.actual_qty - erp_bin.reserved_qty)
