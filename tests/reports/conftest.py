from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.connectors.models import Connector
from inventory_hub.inventory.models import AllocationRule, AllocationRuleVersion, Location
from inventory_hub.observations.models import InventoryEvent, Order, OrderLine
from inventory_hub.reconciliation.models import Discrepancy, HopLagSample
from inventory_hub.tracing.models import Oversell
from tests.factories import ConnectorFactory, LocationFactory, PoolFactory, UserFactory

DAY = dt.date(2026, 3, 10)


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A UTC time on 2026-03-<day>."""
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def reports_dir(settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "reports"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings.REPORTS_DIR


@pytest.fixture
def locations(db) -> tuple[Location, Location]:
    return LocationFactory(code="STORE-A", name="Store A"), LocationFactory(code="STORE-B", name="Store B")


def discrepancy(
    location: Location, sku: str, opened: dt.datetime, closed: dt.datetime | None = None, **extra
) -> Discrepancy:
    values = {
        "hop": "wms_erp",
        "classification": "stale",
        "upstream_quantity": 40,
        "downstream_quantity": 47,
        "peak_gap": 7,
        **extra,
    }
    return Discrepancy.objects.create(location=location, sku=sku, opened_at=opened, closed_at=closed, **values)


def oversell(
    connector: Connector, location: Location, sku: str, ordered: dt.datetime, *, origin: InventoryEvent | None = None
) -> Oversell:
    order = Order.objects.create(
        connector=connector, source_order_id=sku, name=f"#{sku}", channel="web", placed_at=ordered, observed_at=ordered
    )
    line = OrderLine.objects.create(order=order, source_line_id="1", location=location, sku=sku, quantity=5)
    return Oversell.objects.create(
        order_line=line,
        location=location,
        sku=sku,
        ordered_at=ordered,
        quantity=5,
        shown=47,
        truth=2,
        shortfall=3,
        root_cause="channel_allocation",
        originating_event=origin,
        explanation='=HYPERLINK("http://evil.example") allocated to wholesale 20 min before',
        detected_at=ordered + dt.timedelta(minutes=1),
    )


def hop_lag(location: Location, sku: str, changed: dt.datetime, lag: float | None) -> HopLagSample:
    return HopLagSample.objects.create(
        location=location,
        sku=sku,
        hop="wms_erp",
        wms_changed_at=changed,
        reflected_at=None if lag is None else changed + dt.timedelta(seconds=lag),
        lag_seconds=lag,
        method="value_match" if lag is not None else "sync",
    )


def rule_versions(location: Location, created: list[dt.datetime]) -> AllocationRule:
    pool = PoolFactory(code="web-a", name="Web A")
    pool.locations.add(location)
    rule = AllocationRule.objects.create(pool=pool)
    author = UserFactory(username="olivia")
    for number, (when, safety, share) in enumerate(zip(created, (0, 4, 4), (100, 100, 70), strict=False), start=1):
        AllocationRuleVersion.objects.create(
            rule=rule,
            number=number,
            safety_stock=safety,
            channel_share_percent=share,
            effective_from=when,
            author=author,
            author_name="olivia",
            reason=f"change {number}",
            created_at=when,
        )
    return rule


@pytest.fixture
def wms(db) -> Connector:
    return ConnectorFactory(name="WMS", role="wms", adapter="shiphero")


@pytest.fixture
def storefront(db) -> Connector:
    return ConnectorFactory(name="Shop", role="storefront", adapter="shopify")
