"""Data every API test can read: one location with positions in three systems, a discrepancy, an
oversell with its trace, a pool with a boundary and a rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inventory_hub.inventory import services as inventory_services
from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.tracing.models import Oversell, TraceStep
from tests.factories import ChannelFactory, ConnectorFactory, LocationFactory, PoolFactory, UserFactory


@pytest.fixture
def retailer(db):
    now = timezone.now()
    location = LocationFactory(code="FC-1")
    connectors = {
        role: ConnectorFactory(name=f"{role} connector", role=role, adapter=adapter)
        for role, adapter in (("wms", "shiphero"), ("erp", "erpnext"), ("storefront", "shopify"))
    }
    for role, on_hand, allocated, available in (("wms", 30, 5, 25), ("erp", 30, 5, 25), ("storefront", 32, 0, 32)):
        InventoryPosition.objects.create(
            connector=connectors[role], location=location, sku="SKU-1", on_hand=on_hand, allocated=allocated,
            available=available, observed_at=now, changed_at=now,
        )  # fmt: skip
    discrepancy = Discrepancy.objects.create(
        location=location, sku="SKU-1", hop="erp_storefront", classification="stale",
        opened_at=now - dt.timedelta(hours=1), upstream_quantity=25, downstream_quantity=32, peak_gap=7,
    )  # fmt: skip
    oversell = Oversell.objects.create(
        order_line=_order_line(connectors["storefront"], location, now), location=location, sku="SKU-1",
        ordered_at=now, quantity=30, shown=32, truth=25, shortfall=5, root_cause="sync_window_erp_storefront",
        detected_at=now,
    )  # fmt: skip
    TraceStep.objects.create(oversell=oversell, position=1, kind="order", system="storefront", occurred_at=now)
    pool = PoolFactory(code="WEB-FC", name="Web from FC")
    pool.locations.add(location)
    boundary = PoolBoundary.objects.create(pool=pool, connector=connectors["wms"])
    PoolBoundaryEntry.objects.create(boundary=boundary, external_location_id="WH-1")
    rule = inventory_services.allocation_rule_create(
        pool=pool, channel=ChannelFactory(code="web", name="Web"), values=RuleValues(safety_stock=3, channel_share_percent=80),
        author=UserFactory(username="olivia"), reason="Initial",
    )  # fmt: skip
    return {
        "location": location,
        "connectors": connectors,
        "discrepancy": discrepancy,
        "oversell": oversell,
        "pool": pool,
        "boundary": boundary,
        "rule": rule,
    }


def _order_line(connector, location, at):
    from inventory_hub.observations.models import Order, OrderLine

    order = Order.objects.create(
        connector=connector, source_order_id="1001", channel="web", placed_at=at, observed_at=at
    )
    return OrderLine.objects.create(order=order, source_line_id="1", location=location, sku="SKU-1", quantity=30)
