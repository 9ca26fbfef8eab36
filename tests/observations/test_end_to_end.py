"""A sandbox day polled through the three real adapters: the hub holds exactly what each system says."""

from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.connectors.models import PollRun
from inventory_hub.dashboard.demo import (
    backfill_transport,
    demo_backfill,
    demo_reset,
    demo_retailer_create,
    sandbox_backfill_run,
)
from inventory_hub.observations import services
from inventory_hub.observations.models import InventoryEvent, InventoryPosition, Order, OrderLine, PositionChange
from inventory_hub.sandbox.scenario import load_scenario
from inventory_hub.sandbox.simulation import Simulation

pytestmark = pytest.mark.django_db


@pytest.fixture
def polled_day():
    run = sandbox_backfill_run(scenario=load_scenario("two-stores-and-an-fc"), days=1, step=dt.timedelta(hours=6))

    return run.simulation.world, run.connectors, run.transport, run.clock


def _positions(connector, bin_filter=None):
    rows = InventoryPosition.objects.filter(connector=connector)
    if bin_filter is not None:
        rows = rows.filter(bin=bin_filter)
    return {
        (p.location.code, p.sku, p.bin): (p.on_hand, p.allocated, p.available) for p in rows.select_related("location")
    }


def _wms_expected(world, hub):
    expected = {(loc, sku, ""): (p.on_hand, p.allocated, p.available) for (loc, sku), p in world.wms_products.items()}
    for (loc, sku), product in world.wms_products.items():
        for bin_name, quantity in product.bins.items():
            sellable = quantity if bin_name not in product.non_sellable_bins else 0
            if quantity or (loc, sku, bin_name) in hub:  # an emptied bin stays in the hub, at zero
                expected[(loc, sku, bin_name)] = (quantity, 0, sellable)
    return expected


def _storefront_expected(world):
    return {
        (loc, sku, ""): (
            q.quantities["on_hand"],
            q.quantities["committed"] + q.quantities["reserved"],
            q.quantities["available"],
        )
        for (loc, sku), q in world.shop_levels.items()
    }


def test_wms_positions_equal_the_sandbox_wms_for_every_location_sku_and_bin(polled_day):
    world, connectors, _, _ = polled_day
    hub = _positions(connectors["wms"])

    assert hub == _wms_expected(world, hub)


def test_erp_positions_equal_the_sandbox_erp(polled_day):
    world, connectors, _, _ = polled_day

    assert _positions(connectors["erp"]) == {
        (loc, sku, ""): (int(b.actual_qty), int(b.reserved_qty), int(b.actual_qty - b.reserved_qty))
        for (loc, sku), b in world.erp_bins.items()
    }


def test_storefront_positions_equal_the_sandbox_storefront(polled_day):
    world, connectors, _, _ = polled_day

    assert _positions(connectors["storefront"]) == _storefront_expected(world)


def test_events_and_orders_equal_the_sandbox_history(polled_day):
    world, connectors, _, _ = polled_day

    assert InventoryEvent.objects.filter(connector=connectors["wms"]).count() == len(world.wms_changes)
    assert sorted(
        InventoryEvent.objects.filter(connector=connectors["erp"]).values_list("source_event_id", flat=True)
    ) == sorted(e.name for e in world.erp_ledger)
    assert Order.objects.filter(connector=connectors["storefront"]).count() == len(world.shop_orders)
    assert sorted(OrderLine.objects.values_list("sku", "quantity", "location__code")) == sorted(
        (line.sku, line.quantity, line.location) for o in world.shop_orders for line in o.lines
    )


def test_polling_again_adds_nothing(polled_day):
    world, connectors, transport, clock = polled_day
    before = (
        InventoryPosition.objects.count(),
        PositionChange.objects.count(),
        InventoryEvent.objects.count(),
        Order.objects.count(),
    )

    runs = [
        services.connector_poll(connector_id=c.pk, transport=transport, sleep=clock.sleep, now=world.now)
        for c in connectors.values()
    ]

    assert all(run.status == PollRun.Status.SUCCEEDED for run in runs)
    assert [(r.positions_changed, r.events_new, r.orders_new) for r in runs] == [(0, 0, 0)] * 3
    assert (
        InventoryPosition.objects.count(),
        PositionChange.objects.count(),
        InventoryEvent.objects.count(),
        Order.objects.count(),
    ) == before


def test_polling_a_day_with_incremental_reads_still_ends_equal_to_each_system_emptied_bins_included():
    scenario = load_scenario("two-stores-and-an-fc")
    simulation = Simulation(scenario)
    connectors = demo_retailer_create(scenario=scenario, world=simulation.world, base_url="http://sandbox")
    demo_reset(connectors=connectors)
    for connector in connectors.values():
        # Only the first poll reads in full: every later one must get by on what changed.
        connector.options = {**connector.options, "full_read_minutes": 24 * 60}
        connector.save()
    transport, clock = backfill_transport(simulation.world)

    demo_backfill(
        simulation=simulation,
        connectors=connectors,
        transport=transport,
        clock=clock,
        until=scenario.start + dt.timedelta(days=1),
        step=dt.timedelta(minutes=30),
    )

    world = simulation.world
    full_reads = {
        role: list(
            PollRun.objects.filter(connector=c).order_by("started_at").values_list("positions_full_read", flat=True)
        )
        for role, c in connectors.items()
    }
    assert full_reads["wms"] == full_reads["storefront"] == [True] + [False] * 47
    assert full_reads["erp"] == [True] * 48  # ERPNext reads in full: its clock is skewed
    hub = _positions(connectors["wms"])
    assert hub == _wms_expected(world, hub)
    assert _positions(connectors["storefront"]) == _storefront_expected(world)
