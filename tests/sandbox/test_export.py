"""The ground truth's hop lags count what an observer outside each system could date."""

from __future__ import annotations

import datetime as dt

from inventory_hub.sandbox.export import hop_lags
from inventory_hub.sandbox.truth import HopReflection, TrueEvent
from tests.sandbox.worlds import T0, small_world


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _event(event_id: str, minutes: float, *, downstream_delta: int) -> TrueEvent:
    return TrueEvent(
        id=event_id,
        kind="cycle_count",
        location="FC-1",
        sku="SKU-0001",
        bin="A-01",
        delta_on_hand=downstream_delta,
        delta_allocated=0,
        available_before=1,
        available_after=1 + downstream_delta,
        at=_at(minutes),
        shiphero_change_id=None,
        downstream_delta=downstream_delta,
    )


def test_storefront_hops_leave_out_a_change_whose_pull_left_the_shown_number_where_it_was():
    # 08:00 a count of −1 at a level clamped at zero: the pull at 08:40 shows 0 before and after.
    # 09:00 a receipt of +12: the pull at 09:50 moves the shown number. Both reach the ERP.
    world = small_world()
    clamped, shown = _event("wms-1", 0, downstream_delta=-1), _event("wms-2", 60, downstream_delta=12)
    world.truth.events = [clamped, shown]
    world.truth.reflections = {
        "wms-1": HopReflection("wms-1", "FC-1", "SKU-0001", _at(0), _at(10), _at(40), storefront_moved=False),
        "wms-2": HopReflection("wms-2", "FC-1", "SKU-0001", _at(60), _at(80), _at(110), storefront_moved=True),
    }

    lags = hop_lags(world)["FC-1"]

    assert lags["wms_erp"]["count"] == 2
    assert lags["wms_storefront"] == {"p50": 3000.0, "p95": 3000.0, "max": 3000.0, "count": 1}
    assert lags["erp_storefront"] == {"p50": 1800.0, "p95": 1800.0, "max": 1800.0, "count": 1}


def test_hop_lags_since_an_observers_first_read_leave_out_what_its_first_state_already_holds():
    # 08:00 a count reaches the ERP at 08:40; the hub first reads the WMS at 08:05, when the count
    # is already in the WMS's number: it cannot date it. 09:00 a receipt reaches the ERP at 09:10.
    world = small_world()
    before, after = _event("wms-1", 0, downstream_delta=-1), _event("wms-2", 60, downstream_delta=12)
    world.truth.events = [before, after]
    world.truth.reflections = {
        "wms-1": HopReflection("wms-1", "FC-1", "SKU-0001", _at(0), _at(40), _at(50), storefront_moved=True),
        "wms-2": HopReflection("wms-2", "FC-1", "SKU-0001", _at(60), _at(70), _at(90), storefront_moved=True),
    }

    assert hop_lags(world)["FC-1"]["wms_erp"]["count"] == 2
    lags = hop_lags(world, since=_at(5))["FC-1"]

    assert lags["wms_erp"] == {"p50": 600.0, "p95": 600.0, "max": 600.0, "count": 1}
    assert lags["erp_storefront"]["count"] == lags["wms_storefront"]["count"] == 1
