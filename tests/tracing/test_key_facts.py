"""What a trace knows of each WMS change downstream, read from the database (selectors.key_facts_map)."""

from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.observations.models import PositionChange
from inventory_hub.reconciliation.models import Hop, HopLagSample
from inventory_hub.tracing import trace
from inventory_hub.tracing.selectors import key_facts_map
from tests.factories import ConnectorFactory, LocationFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 6, 5, tzinfo=dt.UTC)
SKU = "SKU-00012"
LEDGER = -0.75 - 0.5 / 60  # minutes


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _wms_state(connector, location, minutes: float, on_hand: int) -> None:  # noqa: ANN001
    stamp = _at(minutes)
    PositionChange.objects.create(
        connector=connector, location=location, sku=SKU, bin="", on_hand=on_hand, allocated=0,
        available=on_hand, incoming=0, as_of=stamp, changed_at=stamp,
    )  # fmt: skip


def _sample(location, hop: str, changed: float, reflected: float) -> None:  # noqa: ANN001
    HopLagSample.objects.create(
        location=location, sku=SKU, hop=hop, wms_changed_at=_at(changed), reflected_at=_at(reflected),
        lag_seconds=(reflected - changed) * 60, method="value_match",
    )  # fmt: skip


def test_changes_the_storefront_never_sampled_keep_what_the_trace_can_say_of_them():
    wms = ConnectorFactory(role="wms", adapter="shiphero")
    ConnectorFactory(role="erp", adapter="erpnext", base_url="https://erp.example.test")
    ConnectorFactory(role="storefront", adapter="shopify", base_url="https://shop.example.test")
    location = LocationFactory()
    _wms_state(wms, location, -0.75, on_hand=4)  # the first state read: a count at 06:04:15 is in it
    _wms_state(wms, location, 30, on_hand=6)  # a move into a bin the ERP counts: nothing to learn
    _wms_state(wms, location, 60, on_hand=9)  # a receipt both downstream systems sampled
    # Dated by the ERP's ledger alone, at its posting time: half a second off the WMS's own stamp.
    _sample(location, Hop.WMS_ERP, LEDGER, 40)
    _sample(location, Hop.WMS_ERP, 30, 45)
    _sample(location, Hop.WMS_ERP, 60, 70)
    _sample(location, Hop.WMS_STOREFRONT, 60, 80)
    _sample(location, Hop.WMS_ERP, 50, 55)  # a pick: on no state read, never an origin

    lineage = key_facts_map(keys=[(location.pk, SKU)], until=_at(120))[(location.pk, SKU)].lineage

    assert lineage == [
        # The storefront had the first state's count at its first pull after the ERP (trace decides when).
        trace.HopFacts(_at(LEDGER), _at(40), None, storefront_dated=False),
        # Nothing for the storefront to learn: it had the change once the ERP did.
        trace.HopFacts(_at(30), _at(45), _at(45)),
        trace.HopFacts(_at(60), _at(70), _at(80)),
    ]
