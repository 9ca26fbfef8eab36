"""The pure tracer on hand-built timelines: each root-cause class and the no-oversell case."""

from __future__ import annotations

import datetime as dt

from inventory_hub.tracing import trace

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _observation(minutes: float, *, on_hand: int, allocated: int = 0, excluded: int = 0, reserve: int = 0):
    comparable = on_hand - excluded - allocated
    return trace.WmsObservation(
        at=_at(minutes),
        on_hand=on_hand,
        excluded_on_hand=excluded,
        allocated=allocated,
        available=max(0, comparable - reserve),
    )


def _cycle_count_timeline(order_at: float = 11):
    # 10 on hand, reserve 2 → 8 available; a cycle count at 10:02 takes 7 off → 1 available.
    return trace.wms_timeline(
        observations=[_observation(0, on_hand=10, reserve=2)],
        events=[trace.WmsEvent(at=_at(2), kind="cycle_count", delta=-7, quantity_after=3, event_id=41)],
        until=_at(order_at),
    )


def test_no_oversell_when_wms_available_covers_the_order():
    timeline = _cycle_count_timeline()

    result = trace.oversell_trace(order=trace.OrderFacts(at=_at(11), quantity=1), shown=8, timeline=timeline)

    assert result == trace.Trace(oversold=False, shown=8, truth=1, shortfall=0)


def test_cycle_count_not_yet_in_the_erp_is_the_wms_erp_sync_window():
    timeline = _cycle_count_timeline()
    lineage = [trace.HopFacts(wms_changed_at=_at(2), erp_at=_at(16), storefront_at=_at(24))]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3, channel="web"),
        shown=8,
        timeline=timeline,
        lineage=lineage,
        erp_syncs=[_at(16)],
    )

    assert (result.truth, result.shortfall, result.root_cause) == (1, 2, trace.SYNC_WINDOW_WMS_ERP)
    assert result.origin is not None
    assert result.origin.event_id == 41
    assert [step.kind for step in result.steps] == [
        "count_event",
        "missed_sync",
        "missed_sync",
        "shown",
        "order",
        "shortfall",
    ]
    assert result.explanation == (
        "The ERP's sync window had not carried the cycle count of 10:02 (-7) when the order arrived at 10:11, "
        "9 minutes later."
    )


def test_event_the_erp_had_but_the_storefront_had_not_pulled_is_the_erp_storefront_window():
    timeline = _cycle_count_timeline()
    lineage = [trace.HopFacts(wms_changed_at=_at(2), erp_at=_at(6), storefront_at=_at(14))]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3),
        shown=8,
        timeline=timeline,
        lineage=lineage,
        erp_syncs=[_at(6)],
        storefront_syncs=[_at(4), _at(14)],
    )

    assert result.root_cause == trace.SYNC_WINDOW_ERP_STOREFRONT
    erp_sync = next(step for step in result.steps if step.kind == "sync")
    assert (erp_sync.hop, erp_sync.occurred_at, erp_sync.lag_seconds) == ("wms_erp", _at(6), 240.0)


def test_allocation_to_another_channel_inferred_from_allocated_rising_is_channel_allocation():
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=12), _observation(5, on_hand=12, allocated=10)],
        events=[],
        until=_at(11),
    )

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3, channel="web"), shown=12, timeline=timeline
    )

    assert (result.truth, result.root_cause) == (2, trace.CHANNEL_ALLOCATION)
    assert result.origin == trace.TimelineEntry(
        at=_at(5), kind="channel_allocation", delta=10, available_before=12, available_after=2, inferred=True
    )


def test_the_storefronts_own_earlier_order_is_no_channel_allocation_and_no_lost_sync():
    # The storefront took its own order off when it was placed: showing 5 afterwards is its rules.
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=5)],
        events=[],
        orders=[trace.OrderAllocation(at=_at(3), quantity=4, channel="web")],
        until=_at(11),
    )

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=2, channel="web"), shown=5, timeline=timeline
    )

    assert (result.truth, result.root_cause) == (1, trace.RULE_DIVERGENCE)


def test_units_in_the_quarantine_bin_the_storefront_still_counts_are_a_boundary_mismatch():
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=6, excluded=5)],
        events=[],
        until=_at(11),
    )

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3), shown=6, timeline=timeline, erp_comparable=6
    )

    assert (result.truth, result.shortfall, result.root_cause) == (1, 2, trace.BOUNDARY_MISMATCH)
    assert result.origin is None


def test_storefront_selling_more_than_it_showed_is_storefront_oversold():
    timeline = _cycle_count_timeline()

    result = trace.oversell_trace(order=trace.OrderFacts(at=_at(11), quantity=3), shown=2, timeline=timeline)

    assert result.root_cause == trace.STOREFRONT_OVERSOLD


def test_event_every_system_had_reflected_leaves_rule_divergence():
    timeline = _cycle_count_timeline()
    lineage = [trace.HopFacts(wms_changed_at=_at(2), erp_at=_at(4), storefront_at=_at(6))]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3), shown=4, timeline=timeline, lineage=lineage
    )

    assert result.root_cause == trace.RULE_DIVERGENCE


def test_receipt_after_the_crossing_keeps_the_earlier_count_as_the_origin_when_still_short():
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=10)],
        events=[
            trace.WmsEvent(at=_at(2), kind="cycle_count", delta=-9, quantity_after=1, event_id=1),
            trace.WmsEvent(at=_at(4), kind="receipt", delta=1, quantity_after=2, event_id=2),
        ],
        until=_at(11),
    )

    origin = trace.originating_event(timeline.entries, quantity=5, before=_at(11))

    assert (timeline.available, origin.event_id if origin else None) == (2, 1)


def test_the_wms_reserve_is_inferred_from_a_later_observation_when_stock_sat_at_or_below_it():
    # At the first observation 2 sellable units are all held back (reserve 3): available reads 0.
    observations = [
        trace.WmsObservation(at=_at(0), on_hand=2, excluded_on_hand=0, allocated=0, available=0),
        trace.WmsObservation(at=_at(60), on_hand=10, excluded_on_hand=0, allocated=0, available=7),
    ]

    timeline = trace.wms_timeline(observations=observations, events=[], until=_at(30))

    assert timeline.available == 0  # 2 on hand − 3 reserve, not the 2 a zero reserve would give
