from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry
from inventory_hub.observations.models import PositionChange
from inventory_hub.reconciliation.selectors import position_at
from tests.factories import ConnectorFactory, LocationFactory, LocationMappingFactory, PoolFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
SKU = "SKU-1"


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def history():
    """The WMS allocates 6 of 10 at 06:10 and quarantines 1 at 06:12; the ERP catches up at 06:30."""
    location = LocationFactory(code="STORE-A")
    wms = ConnectorFactory(role="wms", adapter="shiphero")
    erp = ConnectorFactory(role="erp", adapter="erpnext")
    storefront = ConnectorFactory(role="storefront", adapter="shopify")
    LocationMappingFactory(connector=wms, external_id="wms-store-a", location=location)
    boundary = PoolBoundary.objects.create(pool=PoolFactory(), connector=wms)
    PoolBoundaryEntry.objects.create(
        boundary=boundary, external_location_id="wms-store-a", bin="QUARANTINE", included=False
    )
    for connector, bin_name, on_hand, allocated, available, minutes in [
        (wms, "", 10, 0, 10, 0),
        (wms, "", 10, 6, 4, 10),
        (wms, "QUARANTINE", 1, 0, 0, 12),
        (erp, "", 10, 0, 10, 0),
        (erp, "", 10, 6, 4, 30),
        (storefront, "", 10, 0, 8, 0),
    ]:
        PositionChange.objects.create(
            connector=connector,
            location=location,
            sku=SKU,
            bin=bin_name,
            on_hand=on_hand,
            allocated=allocated,
            available=available,
            incoming=0,
            changed_at=_at(minutes),
        )
    return location


def _comparables(answer) -> dict[str, int | None]:
    return {role: values.comparable if values else None for role, values in answer.items()}


def test_before_the_allocation_every_system_believed_the_truth(history):
    answer = position_at(location_id=history.pk, sku=SKU, at=_at(5))

    assert _comparables(answer) == {"wms": 10, "erp": 10, "storefront": 8, "truth": 10}
    assert answer["erp"].changed_at == _at(0)


def test_after_the_allocation_the_erp_still_believed_the_old_number(history):
    answer = position_at(location_id=history.pk, sku=SKU, at=_at(20))

    # WMS: 10 on hand − 1 in quarantine − 6 allocated.
    assert _comparables(answer) == {"wms": 3, "erp": 10, "storefront": 8, "truth": 3}
    assert (answer["wms"].on_hand, answer["wms"].allocated, answer["wms"].changed_at) == (10, 6, _at(10))


def test_once_the_erp_synced_it_agreed_with_the_wms_total(history):
    answer = position_at(location_id=history.pk, sku=SKU, at=_at(30))

    assert _comparables(answer) == {"wms": 3, "erp": 4, "storefront": 8, "truth": 3}


def test_before_any_history_nothing_was_believed(history):
    answer = position_at(location_id=history.pk, sku=SKU, at=_at(-1))

    assert answer == {"wms": None, "erp": None, "storefront": None, "truth": None}
