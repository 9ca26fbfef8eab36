from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory_hub.observations.models import InventoryEvent, InventoryPosition, Order
from tests.factories import ConnectorFactory, LocationFactory

pytestmark = pytest.mark.django_db


def _position(connector, location, sku="SKU-A", bin="", on_hand=47):
    now = timezone.now()
    return InventoryPosition.objects.create(
        connector=connector,
        location=location,
        sku=sku,
        bin=bin,
        on_hand=on_hand,
        allocated=0,
        available=on_hand,
        observed_at=now,
        changed_at=now,
    )


def _event(connector, location, source_event_id="evt-1"):
    now = timezone.now()
    return InventoryEvent.objects.create(
        connector=connector,
        source_event_id=source_event_id,
        kind="cycle_count",
        location=location,
        sku="SKU-A",
        delta=-47,
        quantity_after=0,
        occurred_at=now,
        observed_at=now,
    )


def test_database_rejects_a_second_position_for_the_same_connector_location_and_sku():
    connector, location = ConnectorFactory(), LocationFactory()
    _position(connector, location)

    with pytest.raises(IntegrityError), transaction.atomic():
        _position(connector, location, on_hand=12)

    assert InventoryPosition.objects.get().on_hand == 47


def test_same_sku_is_a_separate_position_per_bin_and_per_connector():
    connector, other, location = ConnectorFactory(), ConnectorFactory(role="erp"), LocationFactory()
    _position(connector, location)

    _position(connector, location, bin="QUARANTINE")
    _position(other, location)

    assert InventoryPosition.objects.count() == 3


def test_database_rejects_a_duplicate_source_event_id_from_one_connector():
    connector, location = ConnectorFactory(), LocationFactory()
    _event(connector, location)

    with pytest.raises(IntegrityError), transaction.atomic():
        _event(connector, location)

    assert InventoryEvent.objects.count() == 1


def test_two_connectors_may_use_the_same_event_id():
    location = LocationFactory()
    _event(ConnectorFactory(), location)

    _event(ConnectorFactory(), location)

    assert InventoryEvent.objects.count() == 2


def test_database_rejects_a_duplicate_source_order_id():
    connector, now = ConnectorFactory(role="storefront", adapter="shopify"), timezone.now()
    Order.objects.create(connector=connector, source_order_id="gid://shopify/Order/1", placed_at=now, observed_at=now)

    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            connector=connector, source_order_id="gid://shopify/Order/1", placed_at=now, observed_at=now
        )

    assert Order.objects.count() == 1
