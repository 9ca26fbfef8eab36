"""Hand-built timelines of one (location, SKU) traced end to end, as a fulfillment manager reads them.

Every story happens on 2 November between 10:00 and noon, with a handful of units. The WMS's
clock is the hub's; the ERP's may not be (see the clock-skew story).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory_hub.connectors.models import Connector
from inventory_hub.observations.models import InventoryEvent, Order, OrderLine
from inventory_hub.reconciliation.lineage import (
    Reading,
    clock_offset_estimate,
    on_hub_clock,
    value_reflections,
)
from inventory_hub.tracing import trace
from inventory_hub.tracing.models import Oversell, TraceStep
from inventory_hub.tracing.services import CascadeEvent, cascade_loops_detect, cascade_loops_find
from tests.factories import ConnectorFactory, LocationFactory

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _observation(
    minutes: float, *, on_hand: int, allocated: int = 0, excluded: int = 0, reserve: int = 0
) -> trace.WmsObservation:
    comparable = on_hand - excluded - allocated
    return trace.WmsObservation(
        at=_at(minutes),
        on_hand=on_hand,
        excluded_on_hand=excluded,
        allocated=allocated,
        available=max(0, comparable - reserve),
    )


def _event(
    minutes: float,
    kind: str,
    delta: int,
    *,
    after: int | None = None,
    event_id: int | None = None,
    excluded_bin: bool = False,
) -> trace.WmsEvent:
    return trace.WmsEvent(
        at=_at(minutes), kind=kind, delta=delta, excluded_bin=excluded_bin, quantity_after=after, event_id=event_id
    )


def _kinds(result: trace.Trace) -> list[str]:
    return [step.kind for step in result.steps]


def _hop_steps(result: trace.Trace, hop: str) -> list[tuple[str, dt.datetime | None, float | None]]:
    return [(step.kind, step.occurred_at, step.lag_seconds) for step in result.steps if step.hop == hop]


# --- A receipt after the crossing event -------------------------------------------------------


def _counted(*later: trace.WmsEvent, until: float = 11) -> trace.Timeline:
    # 10 on hand, WMS reserve 2 → 8 available; the 10:02 cycle count finds 3 (→ 1 available).
    return trace.wms_timeline(
        observations=[_observation(0, on_hand=10, reserve=2)],
        events=[_event(2, "cycle_count", -7, after=3, event_id=41), *later],
        until=_at(until),
    )


def test_a_receipt_after_the_count_that_still_leaves_the_order_short_keeps_the_count_as_origin():
    timeline = _counted(_event(5, "receipt", 1, after=4, event_id=42))
    # Neither WMS change had reached the ERP by the order; its next sync was 10:16.
    lineage = [
        trace.HopFacts(wms_changed_at=_at(2), erp_at=_at(16), storefront_at=None),
        trace.HopFacts(wms_changed_at=_at(5), erp_at=_at(16), storefront_at=None),
    ]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3, channel="web"),
        shown=8,
        timeline=timeline,
        lineage=lineage,
        erp_syncs=[_at(16)],
    )

    assert (result.oversold, result.truth, result.shortfall) == (True, 2, 1)
    assert result.origin is not None
    assert (result.origin.event_id, result.origin.kind, result.origin.at) == (41, "cycle_count", _at(2))
    assert result.root_cause == trace.SYNC_WINDOW_WMS_ERP
    assert result.explanation == (
        "The ERP's sync window had not carried the cycle count of 10:02 (-7) when the order arrived at 10:11, "
        "9 minutes later."
    )


def test_a_receipt_that_restores_enough_before_the_order_means_there_was_no_oversell():
    timeline = _counted(_event(5, "receipt", 5, after=8, event_id=42))

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3), shown=8, timeline=timeline, erp_syncs=[_at(16)]
    )

    assert result == trace.Trace(oversold=False, shown=8, truth=6, shortfall=0)


def test_a_receipt_landing_after_the_order_does_not_rescue_it():
    # The receipt at 10:15 is after the 10:11 order: truth at the order is still 1.
    timeline = _counted(_event(15, "receipt", 20, after=23, event_id=42))

    result = trace.oversell_trace(order=trace.OrderFacts(at=_at(11), quantity=3), shown=8, timeline=timeline)

    assert (result.oversold, result.truth, result.origin.event_id if result.origin else None) == (True, 1, 41)


def test_after_a_receipt_restored_stock_the_later_crossing_is_the_origin():
    # 8 → 1 at the 10:02 count, back to 7 with the 10:04 receipt, then 5 damaged units written
    # off at 10:07 take it to 2: the write-off, not the count, is what the ERP had not seen.
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=10, reserve=2)],
        events=[
            _event(2, "cycle_count", -7, after=3, event_id=41),
            _event(4, "receipt", 6, after=9, event_id=42),
            _event(7, "adjustment", -5, after=4, event_id=43),
        ],
        until=_at(11),
    )

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3), shown=8, timeline=timeline, erp_syncs=[_at(16)]
    )

    assert [(e.event_id, e.available_before, e.available_after) for e in timeline.entries] == [
        (41, 8, 1),
        (42, 1, 7),
        (43, 7, 2),
    ]
    assert result.origin is not None
    assert result.origin.event_id == 43
    assert result.explanation == (
        "The ERP's sync window had not carried the adjustment of 10:07 (-5) when the order arrived at 10:11, "
        "4 minutes later."
    )


def test_a_count_the_first_observation_already_shows_can_still_be_the_origin():
    # The hub's first poll at 10:04 sees 0 on hand, stamped by the 10:04 cycle count that took
    # 3 → 0; an order for 2 at 10:20 (the storefront still showing 3) traces back to that count.
    count = _event(4, "cycle_count", -3, after=0, event_id=11)
    timeline = trace.wms_timeline(observations=[_observation(4, on_hand=0)], events=[count], until=_at(20))

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(20), quantity=2, channel="web"), shown=3, timeline=timeline
    )

    assert (result.truth, result.shortfall) == (0, 2)
    assert result.origin is not None
    assert (result.origin.event_id, result.origin.available_before, result.origin.available_after) == (11, 3, 0)


# --- An allocation to another channel ----------------------------------------------------------


def test_an_order_on_another_of_the_storefronts_channels_is_no_channel_allocation():
    # A pos order in the same shop takes 6 off the level the web channel sells from, at once:
    # the storefront had it, so still showing 8 at 10:11 is not a lost sync but its own number.
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=8)],
        events=[],
        orders=[trace.OrderAllocation(at=_at(5), quantity=6, channel="pos")],
        until=_at(11),
    )

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3, channel="web"), shown=8, timeline=timeline
    )

    assert (result.truth, result.shortfall, result.root_cause) == (2, 1, trace.RULE_DIVERGENCE)
    assert result.origin == trace.TimelineEntry(
        at=_at(5), kind="channel_allocation", delta=6, available_before=8, available_after=2, channel="pos"
    )
    assert result.steps[0].detail == "channel_allocation: WMS available 8 → 2, channel pos"
    assert result.explanation == "Every system had the latest count, yet the storefront showed 8 where the WMS had 2."


def test_only_the_rise_in_allocated_that_own_orders_leave_unexplained_is_inferred_as_another_channel():
    # Allocated goes 0 → 10 between the 10:00 and 10:08 polls; a web order took 4 at 10:03,
    # so 6 went to a channel the hub does not see.
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=12), _observation(8, on_hand=12, allocated=10)],
        events=[],
        orders=[trace.OrderAllocation(at=_at(3), quantity=4, channel="web")],
        until=_at(11),
    )

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3, channel="web"), shown=8, timeline=timeline
    )

    assert [(e.at, e.delta, e.channel, e.inferred) for e in timeline.entries] == [
        (_at(3), 4, "web", False),
        (_at(8), 6, "", True),
    ]
    assert (result.truth, result.root_cause) == (2, trace.CHANNEL_ALLOCATION)
    assert result.steps[0].detail == "channel_allocation (inferred): WMS available 8 → 2"
    assert "allocation of 6 to another channel at 10:08" in result.explanation


def test_an_allocation_seen_only_in_the_observation_stamped_at_the_order_came_before_it():
    # 8 available; a wholesale allocation of 4 at 10:17:38 and the web order for 5 at 10:17:41 land
    # in one poll, whose stamp is the order's own: allocated rose by 9, of which 5 are the order.
    order = trace.OrderAllocation(_at(17 + 41 / 60), 5, "web")
    timeline = trace.wms_timeline(
        observations=[_observation(0, on_hand=8), _observation(17 + 41 / 60, on_hand=8, allocated=9)],
        events=[],
        orders=[order],
        until=order.at,
    )

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=order.at, quantity=5, channel="web"), shown=8, timeline=timeline
    )

    assert (result.oversold, result.truth, result.shortfall) == (True, 4, 1)
    assert result.root_cause == trace.CHANNEL_ALLOCATION
    assert result.origin is not None
    assert (result.origin.inferred, result.origin.delta) == (True, 4)
    assert result.origin.at < order.at


def _first_poll_after_two_orders() -> tuple[trace.OrderAllocation, trace.Timeline]:
    # The hub starts polling at 10:05. 8 on hand, WMS reserve 3 → 5 available; web orders for 3
    # at 10:02:08 and 10:03:02 (stamps are whole seconds). The WMS's first observation is stamped
    # by the second order's allocation, so it is the state just after it: 6 allocated, 0 available.
    first = trace.OrderAllocation(_at(2 + 8 / 60), 3, "web")
    second = trace.OrderAllocation(_at(3 + 2 / 60), 3, "web")
    timeline = trace.wms_timeline(
        observations=[
            trace.WmsObservation(at=second.at, on_hand=8, excluded_on_hand=0, allocated=6, available=0),
            _observation(30, on_hand=21, allocated=6, reserve=3),  # a later poll tells the reserve
        ],
        events=[_event(23, "receipt", 13, after=21, event_id=14)],
        orders=[first, second],
        until=second.at,
    )
    return second, timeline


def test_an_order_the_first_wms_observation_already_shows_is_judged_by_taking_it_back():
    order, timeline = _first_poll_after_two_orders()

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=order.at, quantity=3, channel="web"), shown=4, timeline=timeline
    )

    assert (result.oversold, result.truth, result.shortfall) == (True, 2, 1)
    assert result.root_cause == trace.RULE_DIVERGENCE
    # The earlier order, rebuilt from before the first observation, took 5 → 2.
    assert result.origin == trace.TimelineEntry(
        at=_at(2 + 8 / 60), kind="channel_allocation", delta=3, available_before=5, available_after=2, channel="web"
    )


def test_an_order_before_a_first_wms_observation_stamped_later_is_left_unjudged():
    # Another channel may have been allocated stock between the order and that stamp, and no
    # history lists it: taking the observation back would judge the order by a guess.
    order = trace.OrderAllocation(_at(3), 3, "web")
    timeline = trace.wms_timeline(
        observations=[_observation(4, on_hand=8, allocated=6, reserve=3)], events=[], orders=[order], until=order.at
    )

    assert timeline.available is None
    assert not trace.oversell_trace(
        order=trace.OrderFacts(at=order.at, quantity=3), shown=4, timeline=timeline
    ).oversold


# --- A boundary mismatch -----------------------------------------------------------------------


def _moved_to_quarantine() -> trace.Timeline:
    # 6 sellable; at 10:03 four are moved into the quarantine bin the WMS pool excludes.
    return trace.wms_timeline(
        observations=[_observation(0, on_hand=6)],
        events=[
            _event(3, "transfer", -4, after=2, event_id=51),
            _event(3, "transfer", 4, after=6, event_id=52, excluded_bin=True),
        ],
        until=_at(11),
    )


def test_units_moved_into_quarantine_that_erp_and_storefront_still_count_are_a_boundary_mismatch():
    timeline = _moved_to_quarantine()
    # Both downstream systems reflected the move promptly: nothing was lost in a sync.
    lineage = [trace.HopFacts(wms_changed_at=_at(3), erp_at=_at(4), storefront_at=_at(6))]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3),
        shown=6,
        timeline=timeline,
        lineage=lineage,
        erp_syncs=[_at(4)],
        storefront_syncs=[_at(6)],
        erp_comparable=6,
    )

    assert (timeline.available, timeline.comparable, timeline.excluded_on_hand) == (2, 2, 4)
    assert (result.truth, result.shortfall, result.root_cause) == (2, 1, trace.BOUNDARY_MISMATCH)
    assert result.origin is not None
    assert result.origin.event_id == 51
    assert _hop_steps(result, "wms_erp") == [("sync", _at(4), 60.0)]
    assert _hop_steps(result, "erp_storefront") == [("sync", _at(6), 120.0)]
    assert result.explanation == "The storefront counts 4 units in bins the WMS excludes (quarantine, damaged)."


def test_quarantine_the_erp_also_leaves_out_is_not_the_boundary_but_the_storefronts_rules():
    timeline = _moved_to_quarantine()
    lineage = [trace.HopFacts(wms_changed_at=_at(3), erp_at=_at(4), storefront_at=_at(6))]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3),
        shown=6,
        timeline=timeline,
        lineage=lineage,
        erp_comparable=2,
    )

    assert result.root_cause == trace.RULE_DIVERGENCE
    assert result.explanation == ("Every system had the latest count, yet the storefront showed 6 where the WMS had 2.")


# --- The storefront showing less than was ordered ----------------------------------------------


def test_storefront_that_sold_more_than_it_showed_is_blamed_even_while_a_sync_window_was_open():
    timeline = _counted()
    lineage = [trace.HopFacts(wms_changed_at=_at(2), erp_at=None, storefront_at=None)]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3),
        shown=2,
        timeline=timeline,
        lineage=lineage,
        erp_syncs=[_at(6)],
    )

    assert (result.truth, result.shortfall, result.root_cause) == (1, 2, trace.STOREFRONT_OVERSOLD)
    assert result.explanation == "The storefront showed 2 but accepted an order for 3 at 10:11."
    # The chain is still told: the count and the ERP sync that ran without it.
    assert result.origin is not None
    assert result.origin.event_id == 41
    assert _hop_steps(result, "wms_erp") == [("missed_sync", _at(6), None)]


def test_storefront_that_sold_more_than_it_showed_is_no_oversell_when_the_wms_had_enough():
    timeline = trace.wms_timeline(observations=[_observation(0, on_hand=10, reserve=2)], events=[], until=_at(11))

    result = trace.oversell_trace(order=trace.OrderFacts(at=_at(11), quantity=3), shown=2, timeline=timeline)

    assert result == trace.Trace(oversold=False, shown=2, truth=8, shortfall=0)


# --- Out-of-order and duplicated observations --------------------------------------------------

# Polls at 10:00, 10:04 and 10:09; a count at 10:02, a receipt at 10:05, an inferred allocation
# of 2 to another channel at 10:09; the storefront's own web order at 10:06.
OBSERVATIONS = (
    _observation(0, on_hand=10, reserve=2),
    _observation(4, on_hand=3, reserve=2),
    _observation(9, on_hand=5, allocated=3, reserve=2),
)
EVENTS = (
    _event(2, "cycle_count", -7, after=3, event_id=41),
    _event(5, "receipt", 2, after=5, event_id=42),
)
ORDERS = (trace.OrderAllocation(at=_at(6), quantity=1, channel="web"),)


def _story_trace(
    observations: list[trace.WmsObservation], events: list[trace.WmsEvent], orders: list[trace.OrderAllocation]
) -> tuple[trace.Timeline, trace.Trace]:
    timeline = trace.wms_timeline(observations=observations, events=events, orders=orders, until=_at(11))
    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=2, channel="web"),
        shown=8,
        timeline=timeline,
        lineage=[trace.HopFacts(wms_changed_at=_at(9), erp_at=_at(10), storefront_at=None)],
        erp_syncs=[_at(10)],
        storefront_syncs=[_at(7)],
    )
    return timeline, result


def test_the_clean_story_is_an_allocation_to_another_channel():
    timeline, result = _story_trace(list(OBSERVATIONS), list(EVENTS), list(ORDERS))

    assert [(e.at, e.kind, e.available_before, e.available_after) for e in timeline.entries] == [
        (_at(2), "cycle_count", 8, 1),
        (_at(5), "receipt", 1, 3),
        (_at(6), "channel_allocation", 3, 2),
        (_at(9), "channel_allocation", 2, 0),
    ]
    assert (result.truth, result.root_cause) == (0, trace.CHANNEL_ALLOCATION)
    assert result.origin == timeline.entries[3]


def test_observations_and_events_given_out_of_order_give_the_same_timeline_and_trace():
    clean = _story_trace(list(OBSERVATIONS), list(EVENTS), list(ORDERS))

    shuffled = _story_trace(list(reversed(OBSERVATIONS)), list(reversed(EVENTS)), list(ORDERS))

    assert shuffled == clean


def test_an_observation_polled_twice_changes_nothing():
    clean = _story_trace(list(OBSERVATIONS), list(EVENTS), list(ORDERS))

    twice = _story_trace([*OBSERVATIONS, OBSERVATIONS[1], OBSERVATIONS[2]], list(EVENTS), list(ORDERS))

    assert twice == clean


def test_an_event_reported_twice_with_the_wms_quantity_after_leaves_truth_and_trace_unchanged():
    # One WMS: the event carries the location's on hand after it, so a replay re-sets the same value.
    _, clean = _story_trace(list(OBSERVATIONS), list(EVENTS), list(ORDERS))

    timeline, twice = _story_trace(list(OBSERVATIONS), [*EVENTS, EVENTS[0]], list(ORDERS))

    assert twice == clean
    assert timeline.available == 0


def test_two_events_at_the_same_instant_given_in_either_order_give_the_same_timeline():
    clean = _moved_to_quarantine()
    take_out, put_in = (
        _event(3, "transfer", -4, after=2, event_id=51),
        _event(3, "transfer", 4, after=6, event_id=52, excluded_bin=True),
    )

    swapped = trace.wms_timeline(observations=[_observation(0, on_hand=6)], events=[put_in, take_out], until=_at(11))

    assert swapped == clean


def test_an_event_reported_twice_without_quantity_after_is_applied_once():
    count = _event(2, "cycle_count", -7, event_id=41)
    observations = [_observation(0, on_hand=10, reserve=2)]
    clean = trace.wms_timeline(observations=observations, events=[count], until=_at(11))

    twice = trace.wms_timeline(observations=observations, events=[count, count], until=_at(11))

    assert twice == clean


@given(
    observations=st.lists(st.sampled_from(OBSERVATIONS), max_size=3).flatmap(
        lambda repeats: st.permutations([*OBSERVATIONS, *repeats])
    ),
    events=st.permutations(EVENTS),
)
def test_any_order_or_repetition_of_the_polls_gives_the_same_timeline_and_trace(
    observations: list[trace.WmsObservation], events: list[trace.WmsEvent]
):
    clean = _story_trace(list(OBSERVATIONS), list(EVENTS), list(ORDERS))

    assert _story_trace(observations, events, list(ORDERS)) == clean


# --- Clock skew between systems ----------------------------------------------------------------


def test_erp_stamps_on_a_clock_three_minutes_ahead_are_moved_onto_the_hubs_clock_before_the_lag():
    erp_ahead = dt.timedelta(minutes=3)
    # (ERP's own stamp, when the hub first saw it): the starting state was seen at once, the
    # count's arrival a minute after the ERP recorded it.
    erp_changes = [(_at(0) + erp_ahead, _at(0), 10), (_at(6) + erp_ahead, _at(7), 3)]
    offset = clock_offset_estimate((stamp, seen) for stamp, seen, _ in erp_changes)
    wms = [Reading(at=_at(0), value=10), Reading(at=_at(2), value=3)]
    erp = [Reading(at=on_hub_clock(stamp, offset), value=value) for stamp, _, value in erp_changes]
    [reflection] = value_reflections(wms, erp)
    timeline = _counted()

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=3),
        shown=8,
        timeline=timeline,
        lineage=[
            trace.HopFacts(wms_changed_at=reflection.changed_at, erp_at=reflection.reflected_at, storefront_at=None)
        ],
        erp_syncs=[reading.at for reading in erp],
        storefront_syncs=[_at(14)],
    )

    assert offset == erp_ahead
    assert (reflection.reflected_at, reflection.lag) == (_at(6), dt.timedelta(minutes=4))
    assert result.root_cause == trace.SYNC_WINDOW_ERP_STOREFRONT
    assert _hop_steps(result, "wms_erp") == [("sync", _at(6), 240.0)]
    assert result.explanation == (
        "The ERP had the cycle count of 10:02 (-7) by 10:06, but the storefront's pull had not carried it "
        "when the order arrived at 10:11."
    )


def test_erp_stamps_taken_at_face_value_would_blame_the_wrong_hop():
    # The ERP runs 6 minutes ahead and really had the count at 10:06. Its own stamp, 10:12, would
    # put the arrival after the 10:11 order and blame the WMS→ERP hop instead of ERP→storefront.
    erp_ahead = dt.timedelta(minutes=6)
    erp_changes = [(_at(0) + erp_ahead, _at(0), 10), (_at(6) + erp_ahead, _at(7), 3)]
    offset = clock_offset_estimate((stamp, seen) for stamp, seen, _ in erp_changes)
    wms = [Reading(at=_at(0), value=10), Reading(at=_at(2), value=3)]

    def erp_at(moved: bool) -> dt.datetime | None:
        erp = [Reading(at=on_hub_clock(s, offset) if moved else s, value=v) for s, _, v in erp_changes]
        return value_reflections(wms, erp)[0].reflected_at

    def cause(reflected: dt.datetime | None) -> str:
        return trace.oversell_trace(
            order=trace.OrderFacts(at=_at(11), quantity=3),
            shown=8,
            timeline=_counted(),
            lineage=[trace.HopFacts(wms_changed_at=_at(2), erp_at=reflected, storefront_at=None)],
        ).root_cause

    assert (erp_at(moved=False), cause(erp_at(moved=False))) == (_at(12), trace.SYNC_WINDOW_WMS_ERP)
    assert (erp_at(moved=True), cause(erp_at(moved=True))) == (_at(6), trace.SYNC_WINDOW_ERP_STOREFRONT)


# --- A failed ERP sync ---------------------------------------------------------------------------


def _receipt_then_count() -> trace.Timeline:
    # 10 on hand; a receipt of 2 at 10:01 (→ 12), then the 10:02 cycle count finds 5.
    return trace.wms_timeline(
        observations=[_observation(0, on_hand=10)],
        events=[_event(1, "receipt", 2, after=12, event_id=40), _event(2, "cycle_count", -7, after=5, event_id=41)],
        until=_at(11),
    )


def _lineage_from_values(erp: list[Reading]) -> list[trace.HopFacts]:
    wms = [Reading(at=_at(0), value=10), Reading(at=_at(1), value=12), Reading(at=_at(2), value=5)]
    return [
        trace.HopFacts(wms_changed_at=r.changed_at, erp_at=r.reflected_at, storefront_at=None)
        for r in value_reflections(wms, erp)
    ]


def test_an_erp_sync_that_ran_without_the_count_is_listed_as_missed_and_blames_the_wms_erp_window():
    # The 10:04 ERP sync brought the receipt (12) but not the count; the next one is at 10:16.
    erp = [Reading(at=_at(0), value=10), Reading(at=_at(4), value=12), Reading(at=_at(16), value=5)]
    lineage = _lineage_from_values(erp)

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=6),
        shown=12,
        timeline=_receipt_then_count(),
        lineage=lineage,
        erp_syncs=[reading.at for reading in erp],
        storefront_syncs=[_at(6)],
    )

    assert [(f.wms_changed_at, f.erp_at) for f in lineage] == [(_at(1), _at(4)), (_at(2), _at(16))]
    assert (result.truth, result.shortfall, result.root_cause) == (5, 1, trace.SYNC_WINDOW_WMS_ERP)
    assert result.origin is not None
    assert result.origin.event_id == 41
    assert _kinds(result) == ["count_event", "missed_sync", "missed_sync", "shown", "order", "shortfall"]
    assert _hop_steps(result, "wms_erp") == [("missed_sync", _at(4), None)]
    assert result.steps[1].detail == "erp synced without it"
    assert _hop_steps(result, "erp_storefront") == [("missed_sync", _at(6), None)]
    assert result.explanation == (
        "The ERP's sync window had not carried the cycle count of 10:02 (-7) when the order arrived at 10:11, "
        "9 minutes later."
    )


def test_an_erp_that_missed_one_sync_and_carried_the_count_at_the_next_moves_the_blame_downstream():
    erp = [
        Reading(at=_at(0), value=10),
        Reading(at=_at(4), value=12),
        Reading(at=_at(8), value=5),
    ]
    lineage = _lineage_from_values(erp)

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(11), quantity=6),
        shown=12,
        timeline=_receipt_then_count(),
        lineage=lineage,
        erp_syncs=[reading.at for reading in erp],
        storefront_syncs=[_at(6), _at(14)],
    )

    assert result.root_cause == trace.SYNC_WINDOW_ERP_STOREFRONT
    assert _hop_steps(result, "wms_erp") == [("missed_sync", _at(4), None), ("sync", _at(8), 360.0)]
    # The storefront's 10:06 pull came before the ERP had it; its next is after the order.
    assert _hop_steps(result, "erp_storefront") == [("missed_sync", None, None)]
    assert result.steps[3].detail == "no storefront sync before the order"
    assert "by 10:08" in result.explanation


# --- A cascade loop ------------------------------------------------------------------------------


def _adjustment(pk: int, system: str, minutes: float, delta: int = -2) -> CascadeEvent:
    return CascadeEvent(event_id=pk, system=system, at=_at(minutes), delta=delta, detail="")


def test_cascade_adjustments_given_out_of_order_and_interleaved_with_another_key_form_one_loop_per_key():
    adjustments = [
        (1, "SKU-1", _adjustment(3, "erp", 69)),
        (2, "SKU-1", _adjustment(12, "erp", 40)),
        (1, "SKU-1", _adjustment(1, "erp", 19)),
        (2, "SKU-1", _adjustment(11, "wms", 20)),
        (1, "SKU-1", _adjustment(2, "wms", 39, delta=2)),
        (2, "SKU-1", _adjustment(10, "erp", 0)),
    ]

    loops = cascade_loops_find(adjustments)

    assert [(loop.location_id, [e.event_id for e in loop.events]) for loop in loops] == [
        (1, [1, 2, 3]),
        (2, [10, 11, 12]),
    ]


def test_a_cascade_loop_chains_event_to_event_so_it_may_outlast_one_window():
    # Each adjustment answers the previous within the 2 h window; the loop spans 3 h 20.
    adjustments = [
        (1, "SKU-1", _adjustment(1, "erp", 0)),
        (1, "SKU-1", _adjustment(2, "wms", 100)),
        (1, "SKU-1", _adjustment(3, "erp", 200)),
        (1, "SKU-1", _adjustment(4, "wms", 321)),  # 2 h 01 after the last: a new run, too short
    ]

    loops = cascade_loops_find(adjustments)

    assert [[e.event_id for e in loop.events] for loop in loops] == [[1, 2, 3]]


@pytest.mark.django_db
def test_a_cascade_loop_after_an_oversell_is_appended_to_its_trace_once():
    location = LocationFactory(code="STORE-A")
    wms = ConnectorFactory(role="wms", adapter="shiphero")
    erp = ConnectorFactory(role="erp", adapter="erpnext")
    storefront = ConnectorFactory(role="storefront", adapter="shopify")
    order = Order.objects.create(
        connector=storefront, source_order_id="1001", channel="web", placed_at=_at(11), observed_at=_at(12)
    )
    line = OrderLine.objects.create(order=order, source_line_id="1", location=location, sku="SKU-1", quantity=3)
    oversell = Oversell.objects.create(
        order_line=line,
        location=location,
        sku="SKU-1",
        ordered_at=_at(11),
        quantity=3,
        shown=8,
        truth=1,
        shortfall=2,
        root_cause=trace.SYNC_WINDOW_WMS_ERP,
        detected_at=_at(12),
    )
    TraceStep.objects.create(oversell=oversell, position=1, kind="order", system="storefront", occurred_at=_at(11))

    def event(
        connector: Connector, source_id: str, minutes: float, delta: int, raw: dict[str, str], kind: str = "adjustment"
    ) -> InventoryEvent:
        return InventoryEvent.objects.create(
            connector=connector,
            source_event_id=source_id,
            kind=kind,
            location=location,
            sku="SKU-1",
            delta=delta,
            occurred_at=_at(minutes),
            observed_at=_at(minutes),
            raw=raw,
        )

    reconcile = {"voucher_type": "Stock Reconciliation"}
    # The 10:02 count carried into the ERP as a reconciliation keeps its posting time: not the ERP's own.
    event(wms, "count-1", 2, -7, {}, kind="cycle_count")
    event(erp, "SR-1", 2, -7, reconcile)
    # After the oversell: the ERP writes off 2, the WMS backflushes them, the ERP reconciles again.
    first = event(erp, "SR-2", 30, -2, reconcile)
    backflush = event(wms, "adj-1", 50, 2, {"reason": "Backflush from ERP"})
    last = event(erp, "SR-3", 80, -2, reconcile)

    loops = cascade_loops_detect(now=_at(120))
    cascade_loops_detect(now=_at(120))

    assert [[e.event_id for e in loop.events] for loop in loops] == [[first.pk, backflush.pk, last.pk]]
    assert list(oversell.steps.values_list("position", "kind", "system", "occurred_at", "quantity", "event_id")) == [
        (1, "order", "storefront", _at(11), None, None),
        (2, "cascade", "erp", _at(30), -2, first.pk),
        (3, "cascade", "wms", _at(50), 2, backflush.pk),
        (4, "cascade", "erp", _at(80), -2, last.pk),
    ]


# --- Downstream facts of the right WMS change ---------------------------------------------------


def test_a_count_in_the_first_wms_state_is_not_seen_downstream_through_a_later_orders_facts():
    # The 10:04 count (5 → 4 on hand, reserve 3: 2 → 1 available) is in the hub's first WMS state,
    # so no change before it was sampled; the only facts are the storefront's own 10:10 order
    # ("seen" by the storefront at once). The storefront still shows 4 from before the count.
    count = _event(4, "cycle_count", -1, after=4, event_id=11)
    order = trace.OrderAllocation(_at(10), 2, "web")
    observations = [_observation(4, on_hand=4, reserve=3), _observation(10, on_hand=4, allocated=2, reserve=3)]
    timeline = trace.wms_timeline(observations=observations, events=[count], orders=[order], until=_at(10))
    lineage = [trace.HopFacts(wms_changed_at=_at(10), erp_at=_at(45), storefront_at=_at(10))]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(10), quantity=2, channel="web"),
        shown=4,
        timeline=timeline,
        lineage=lineage,
        erp_comparable=5,
        wms_states=[o.at for o in observations],
    )

    assert result.origin is not None
    assert result.origin.event_id == 11
    assert result.root_cause == trace.SYNC_WINDOW_WMS_ERP


def test_an_erp_that_left_quarantine_out_while_it_held_stock_is_no_boundary_though_its_number_is_stale():
    # 3 on hand, 1 in quarantine: the ERP read 2 at 10:01 (it leaves quarantine out). The
    # storefront's own 10:10 order for 2 takes WMS available to 0; at 10:40 it still shows 1 and
    # sells it. The ERP, not synced since, still says 2: against the WMS now (0 sellable + 1 in
    # quarantine) that stale number would look like counting quarantine.
    observations = [_observation(0, on_hand=3, excluded=1), _observation(10, on_hand=3, excluded=1, allocated=2)]
    order = trace.OrderAllocation(_at(10), 2, "web")
    timeline = trace.wms_timeline(observations=observations, events=[], orders=[order], until=_at(40))
    counts_excluded = trace.erp_counts_excluded(observations, [(_at(1), 2)])

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(40), quantity=1, channel="web"),
        shown=1,
        timeline=timeline,
        erp_comparable=2,
        erp_boundary_counts_excluded=counts_excluded,
    )

    assert counts_excluded is False
    assert (timeline.comparable, timeline.excluded_on_hand) == (0, 1)
    assert result.root_cause == trace.RULE_DIVERGENCE


def test_the_erp_boundary_is_told_only_by_readings_taken_while_quarantine_held_stock():
    observations = [_observation(0, on_hand=3), _observation(20, on_hand=3, excluded=1)]

    assert trace.erp_counts_excluded(observations, [(_at(1), 3)]) is None  # quarantine empty: either boundary
    assert trace.erp_counts_excluded(observations, [(_at(1), 3), (_at(21), 3)]) is True
    assert trace.erp_counts_excluded(observations, [(_at(21), 2)]) is False


def test_a_count_in_the_first_wms_state_the_erp_ledger_dated_reached_the_storefront_at_its_next_pull():
    # As above, but the ERP's ledger dates the 10:04 count (carried at 10:22); the hub never sampled
    # the storefront hop for it. The storefront's 10:38 stamp (no order of its own) is the pull that
    # carried it, so by the 10:46 order every system had it.
    count = _event(4, "cycle_count", -1, after=4, event_id=11)
    order = trace.OrderAllocation(_at(46), 3, "web")
    observations = [_observation(4, on_hand=4, reserve=2), _observation(46, on_hand=4, allocated=3, reserve=2)]
    timeline = trace.wms_timeline(observations=observations, events=[count], orders=[order], until=_at(46))
    lineage = [
        trace.HopFacts(wms_changed_at=_at(4.0002), erp_at=_at(22), storefront_at=None, storefront_dated=False),
        trace.HopFacts(wms_changed_at=_at(46), erp_at=_at(84), storefront_at=_at(46)),
    ]

    result = trace.oversell_trace(
        order=trace.OrderFacts(at=_at(46), quantity=3, channel="web"),
        shown=4,
        timeline=timeline,
        lineage=lineage,
        storefront_syncs=[_at(0), _at(38)],
        erp_comparable=4,
        wms_states=[o.at for o in observations],
    )

    assert result.origin is not None
    assert result.origin.event_id == 11
    assert result.root_cause == trace.RULE_DIVERGENCE
    assert _hop_steps(result, "erp_storefront")[-1] == ("sync", _at(38), 16 * 60.0)
