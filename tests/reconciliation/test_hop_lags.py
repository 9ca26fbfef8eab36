from __future__ import annotations

import datetime as dt
import functools

import pytest

from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.inventory.services import allocation_rule_create
from inventory_hub.observations.models import EventKind, PositionChange
from inventory_hub.reconciliation import lineage
from inventory_hub.reconciliation.hop_lags import _key_samples, hop_lags_measure
from inventory_hub.reconciliation.models import HopLagSample
from inventory_hub.reconciliation.selectors import exposure_by_location, hop_lag_stats
from tests.factories import (
    ConnectorFactory,
    LocationFactory,
    LocationMappingFactory,
    PoolFactory,
    UserFactory,
    position_create,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
SKU = "SKU-1"
ERP_CLOCK = dt.timedelta(seconds=-60)  # the ERP's clock runs a minute behind the hub's


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def retailer():
    """One store: a WMS with a quarantine bin out of the pool, an ERP, a storefront; safety stock 2."""
    location = LocationFactory(code="STORE-A")
    connectors = {
        "wms": ConnectorFactory(role="wms", adapter="shiphero"),
        "erp": ConnectorFactory(role="erp", adapter="erpnext"),
        "storefront": ConnectorFactory(role="storefront", adapter="shopify"),
    }
    for role, connector in connectors.items():
        LocationMappingFactory(connector=connector, external_id=f"{role}-store-a", location=location)
    pool = PoolFactory()
    pool.locations.add(location)
    boundary = PoolBoundary.objects.create(pool=pool, connector=connectors["wms"])
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


def _change(connector, location, *, on_hand, allocated=0, available=None, at, seen, bin="", sku=SKU):
    PositionChange.objects.create(
        connector=connector,
        location=location,
        sku=sku,
        bin=bin,
        on_hand=on_hand,
        allocated=allocated,
        available=on_hand - allocated if available is None else available,
        incoming=0,
        as_of=at,
        changed_at=seen,
    )


def _day(retailer):
    """WMS 10 → 7 at 06:03 → 4 at 06:21; the ERP syncs at 06:14 and 06:33, the storefront pulls at 06:19 and 06:40."""
    location, c = retailer
    _change(c["wms"], location, on_hand=10, at=_at(0), seen=_at(0))
    _change(c["wms"], location, on_hand=7, at=_at(3), seen=_at(5))
    _change(c["wms"], location, on_hand=4, at=_at(21), seen=_at(25))
    _change(c["erp"], location, on_hand=10, at=_at(0) + ERP_CLOCK, seen=_at(0))
    _change(c["erp"], location, on_hand=7, at=_at(14) + ERP_CLOCK, seen=_at(15))
    _change(c["erp"], location, on_hand=4, at=_at(33) + ERP_CLOCK, seen=_at(35))
    _change(c["storefront"], location, on_hand=10, available=8, at=_at(0), seen=_at(0))
    _change(c["storefront"], location, on_hand=7, available=5, at=_at(19), seen=_at(20))
    _change(c["storefront"], location, on_hand=4, available=2, at=_at(40), seen=_at(40))


def _samples() -> list[tuple[str, dt.datetime, dt.datetime | None, float | None, str]]:
    return list(
        HopLagSample.objects.order_by("hop", "wms_changed_at").values_list(
            "hop", "wms_changed_at", "reflected_at", "lag_seconds", "method"
        )
    )


def test_measures_when_the_erp_and_then_the_storefront_first_reflected_each_wms_change(retailer):
    _day(retailer)

    result = hop_lags_measure(now=_at(60))

    # The starting state was stamped and seen at 06:00 (ERP clock 05:59): the offset is exact.
    assert result.clock_offsets[retailer[1]["erp"].pk] == ERP_CLOCK
    assert (result.keys, result.changes, result.samples, result.reflected) == (1, 2, 6, 6)
    assert _samples() == [
        ("erp_storefront", _at(3), _at(19), 300.0, "sync"),
        ("erp_storefront", _at(21), _at(40), 420.0, "sync"),
        ("wms_erp", _at(3), _at(14), 660.0, "value_match"),
        ("wms_erp", _at(21), _at(33), 720.0, "value_match"),
        ("wms_storefront", _at(3), _at(19), 960.0, "sync"),
        ("wms_storefront", _at(21), _at(40), 1140.0, "sync"),
    ]


def test_measuring_twice_stores_the_same_rows(retailer):
    _day(retailer)
    hop_lags_measure(now=_at(60))
    first = list(HopLagSample.objects.order_by("pk").values())

    again = hop_lags_measure(now=_at(60))

    assert again.samples == 6
    assert list(HopLagSample.objects.order_by("pk").values()) == first


def test_a_change_not_yet_reflected_is_stored_pending_and_filled_in_later(retailer):
    location, c = retailer
    _day(retailer)
    PositionChange.objects.filter(connector=c["storefront"], changed_at=_at(40)).delete()
    hop_lags_measure(now=_at(45))
    pending = HopLagSample.objects.get(hop="wms_storefront", wms_changed_at=_at(21))

    _change(c["storefront"], location, on_hand=4, available=2, at=_at(50), seen=_at(50))
    hop_lags_measure(now=_at(60), since=_at(20))

    assert (pending.reflected_at, pending.lag_seconds) == (None, None)
    pending.refresh_from_db()
    assert (pending.reflected_at, pending.lag_seconds) == (_at(50), 1740.0)
    assert HopLagSample.objects.count() == 6


def test_hop_lag_stats_give_p50_p95_and_max_per_location_and_hop_over_the_window(retailer):
    location, _ = retailer
    for n in range(1, 21):
        HopLagSample.objects.create(
            location=location,
            sku=SKU,
            hop="wms_erp",
            wms_changed_at=_at(n),
            reflected_at=_at(n) + dt.timedelta(seconds=60 * n),
            lag_seconds=60.0 * n,
            method="value_match",
        )
    HopLagSample.objects.create(location=location, sku=SKU, hop="wms_erp", wms_changed_at=_at(21), method="value_match")
    HopLagSample.objects.create(
        location=location,
        sku=SKU,
        hop="wms_erp",
        wms_changed_at=_at(-120),
        reflected_at=_at(0),
        lag_seconds=7200.0,
        method="value_match",
    )

    stats = hop_lag_stats(window=dt.timedelta(hours=1), now=_at(30))

    assert stats == {location.pk: {"wms_erp": {"p50": 630.0, "p95": 1200.0, "max": 1200.0, "count": 20}}}
    assert hop_lag_stats(window=dt.timedelta(hours=1), now=_at(30), location_ids=[location.pk + 1]) == {}


_position = functools.partial(position_create, at=T0)


def test_exposure_sums_the_units_the_storefront_promises_beyond_wms_available(retailer):
    location, c = retailer
    other = LocationFactory(code="STORE-B")
    # SKU-1: WMS 10 on hand, 3 of them in quarantine, 2 allocated → 5; the storefront shows 8: 3 phantom.
    _position(c["wms"], location, sku="SKU-1", on_hand=10, allocated=2)
    _position(c["wms"], location, sku="SKU-1", on_hand=3, available=0, bin="QUARANTINE")
    _position(c["storefront"], location, sku="SKU-1", on_hand=10, available=8)
    # SKU-2: the storefront shows less than the WMS has: no phantom units, and no credit either.
    _position(c["wms"], location, sku="SKU-2", on_hand=6)
    _position(c["storefront"], location, sku="SKU-2", on_hand=6, available=1)
    # SKU-3: WMS allocated everything to another channel; the storefront still shows 4.
    _position(c["wms"], location, sku="SKU-3", on_hand=4, allocated=4)
    _position(c["storefront"], location, sku="SKU-3", on_hand=4, available=4)
    _position(c["wms"], other, sku="SKU-1", on_hand=5)
    _position(c["storefront"], other, sku="SKU-1", on_hand=5, available=5)

    exposure = exposure_by_location()

    assert exposure == {location.pk: 7, other.pk: 0}


def test_the_after_poll_task_reconciles_and_measures_the_keys_the_poll_changed():
    from unittest import mock

    from inventory_hub.reconciliation import tasks

    with (
        mock.patch("inventory_hub.reconciliation.services.reconciliation_run") as run,
        mock.patch("inventory_hub.reconciliation.hop_lags.hop_lags_measure") as measure,
    ):
        tasks.reconciliation_after_poll_task(-1)

    assert run.call_args.kwargs["keys"] == []
    assert measure.call_args.kwargs["keys"] == []


def test_a_poll_stamped_by_a_pick_counts_its_other_movement_once_for_the_storefront():
    # One WMS poll saw a count of −2 at 06:02 and a pick at 06:04 (on hand and allocated −1: the
    # comparable does not move), so the WMS reads 10 → 8 stamped 06:04. The ledger dates both
    # movements (the ERP recorded them at 06:14); the storefront's 06:19 sync shows 8 − 2 = 6.
    # The storefront had one thing to learn, the count: the pick-stamped change is not a second.
    rules = lineage.RulesInForce(((_at(-60), (RuleValues(safety_stock=2),)),))

    samples = _key_samples(
        key=(1, SKU),
        wms=[lineage.Reading(at=_at(0), value=10), lineage.Reading(at=_at(4), value=8)],
        erp=[lineage.Reading(at=_at(0), value=10), lineage.Reading(at=_at(14), value=8)],
        storefronts=[
            (
                [lineage.Reading(at=_at(0), value=8, held_back=2), lineage.Reading(at=_at(19), value=6, held_back=2)],
                [],
            )
        ],
        sources=[(_at(2), _at(14)), (_at(4), _at(14))],
        wms_events=[(_at(2), EventKind.ADJUSTMENT), (_at(4), EventKind.PICK)],
        moved={_at(2): -2.0, _at(4): -1.0},
        rules=rules,
        since=None,
        look_back=lineage.DEFAULT_LOOK_BACK,
    )

    found = sorted((s.hop, s.wms_changed_at, s.reflected_at, s.method) for s in samples)
    assert found == [
        ("erp_storefront", _at(2), _at(19), "sync"),
        ("wms_erp", _at(2), _at(14), "source_timestamp"),
        ("wms_erp", _at(4), _at(14), "source_timestamp"),
        ("wms_storefront", _at(2), _at(19), "sync"),
    ]
