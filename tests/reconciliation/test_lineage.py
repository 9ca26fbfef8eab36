from __future__ import annotations

import datetime as dt

from inventory_hub.inventory.rules import RuleValues
from inventory_hub.reconciliation.lineage import (
    SOURCE_TIMESTAMP,
    SYNC,
    UNCHANGED,
    VALUE_MATCH,
    OwnOrder,
    Reading,
    Reflection,
    RulesInForce,
    atp_accepts,
    carried_lineage,
    chained_lineage,
    clock_offset_estimate,
    lag_stats,
    lineage_match,
    lineages,
    own_entries_lineage,
    own_order_readings_drop,
    source_reflection,
    sources_preferred,
    sync_instants,
    sync_reflections,
    value_reflections,
)

T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _series(*points: tuple[float, int]) -> list[Reading]:
    return [Reading(at=_at(minutes), value=value) for minutes, value in points]


def test_a_downstream_value_reflects_the_latest_wms_state_with_that_value():
    wms = _series((0, 10), (5, 8), (12, 6))

    index = lineage_match(wms, Reading(at=_at(20), value=8))

    assert index == 1


def test_a_value_no_wms_state_had_is_unexplained():
    wms = _series((0, 10), (5, 8))

    index = lineage_match(wms, Reading(at=_at(20), value=7))

    assert index is None


def test_a_state_replaced_before_the_look_back_window_explains_nothing():
    wms = _series((0, 10), (5, 8), (300, 6))

    too_old = lineage_match(wms, Reading(at=_at(400), value=8), look_back=dt.timedelta(minutes=60))
    in_window = lineage_match(wms, Reading(at=_at(330), value=8), look_back=dt.timedelta(minutes=60))

    assert too_old is None
    assert in_window == 1


def test_a_wms_state_after_the_downstream_observation_cannot_explain_it():
    wms = _series((0, 10), (30, 8))

    index = lineage_match(wms, Reading(at=_at(20), value=8))

    assert index is None


def test_one_sync_after_several_wms_changes_reflects_all_of_them_at_once():
    wms = _series((0, 10), (5, 8), (9, 7), (14, 4))
    erp = _series((0, 10), (20, 4))

    reflections = value_reflections(wms, erp)

    assert [(r.changed_at, r.reflected_at) for r in reflections] == [
        (_at(5), _at(20)),
        (_at(9), _at(20)),
        (_at(14), _at(20)),
    ]
    assert [r.lag for r in reflections] == [dt.timedelta(minutes=15), dt.timedelta(minutes=11), dt.timedelta(minutes=6)]


def test_a_change_the_downstream_has_not_reflected_yet_has_no_reflection_time():
    wms = _series((0, 10), (5, 8), (25, 3))
    erp = _series((0, 10), (20, 8))

    reflections = value_reflections(wms, erp)

    assert [(r.changed_at, r.reflected_at, r.method) for r in reflections] == [
        (_at(5), _at(20), VALUE_MATCH),
        (_at(25), None, VALUE_MATCH),
    ]


def test_a_downstream_counting_the_excluded_bins_matches_the_all_bins_alternative():
    wms = [Reading(at=_at(0), value=8, alternatives=(10,)), Reading(at=_at(5), value=5, alternatives=(7,))]
    erp = _series((0, 10), (15, 7))

    reflections = value_reflections(wms, erp)

    assert [(r.changed_at, r.reflected_at) for r in reflections] == [(_at(5), _at(15))]


def test_the_storefront_is_matched_against_expected_atp_under_the_rule_or_its_own_safety_stock():
    accepts = atp_accepts((RuleValues(safety_stock=2),))
    erp = Reading(at=_at(0), value=10)

    under_rule = accepts(erp, Reading(at=_at(5), value=8))
    own_safety_stock = accepts(erp, Reading(at=_at(5), value=9, held_back=1))
    unexplained = accepts(erp, Reading(at=_at(5), value=9))

    assert (under_rule, own_safety_stock, unexplained) == (True, True, False)


def test_the_storefront_reflects_the_wms_state_its_erp_state_came_from():
    erp_lineage = [0, None, 2]

    through = chained_lineage(erp_lineage, [2, 1, None, 0])

    assert through == [2, None, None, 0]


def test_source_timestamps_are_preferred_over_value_matching():
    matched = [
        Reflection(changed_at=_at(5), reflected_at=_at(30), method=VALUE_MATCH, upstream_index=1),
        Reflection(changed_at=_at(9), reflected_at=_at(30), method=VALUE_MATCH, upstream_index=2),
    ]
    sources = [(_at(5), _at(17))]

    preferred = sources_preferred(matched, sources)

    assert [(r.changed_at, r.reflected_at, r.method) for r in preferred] == [
        (_at(5), _at(17), SOURCE_TIMESTAMP),
        (_at(9), _at(30), VALUE_MATCH),
    ]


def test_a_ledger_entry_reflection_is_its_creation_moved_onto_the_hubs_clock():
    erp_clock_ahead = dt.timedelta(seconds=90)

    changed, reflected = source_reflection(
        posted_at=_at(5), created_at=_at(20) + erp_clock_ahead, offset=erp_clock_ahead
    )

    assert (changed, reflected) == (_at(5), _at(20))


def test_clock_offset_is_the_largest_stamp_minus_first_seen():
    behind = dt.timedelta(seconds=-95)
    pairs = [(_at(3) + behind, _at(5)), (_at(9.5) + behind, _at(10)), (_at(14) + behind, _at(15))]

    offset = clock_offset_estimate(pairs)

    assert offset == behind - dt.timedelta(seconds=30)
    assert clock_offset_estimate([]) is None


def test_lag_stats_are_median_nearest_rank_p95_and_max():
    stats = lag_stats([float(n) for n in range(1, 21)])

    assert (stats.p50, stats.p95, stats.max, stats.count) == (10.5, 20.0, 20.0, 20)
    assert lag_stats([]) is None


def test_the_storefront_may_show_the_expected_atp_less_its_own_orders_since_the_erp_state():
    # ERP 10 from 06:00; safety stock 2 → ATP 8. Orders of 3 at 06:10 and of 1 at 06:40.
    orders = [OwnOrder(_at(10), 3), OwnOrder(_at(40), 1)]
    accepts = atp_accepts([RuleValues(safety_stock=2)], orders)
    erp = Reading(at=_at(0), value=10)

    assert accepts(erp, Reading(at=_at(20), value=5))  # the pull at 06:20 still owes the 06:10 order
    assert accepts(erp, Reading(at=_at(45), value=4))  # and the one of 06:40
    assert not accepts(erp, Reading(at=_at(20), value=8))  # the ERP has not carried the order yet
    # Once the ERP has a state from after the order, the order is in it and no longer taken off.
    assert accepts(Reading(at=_at(15), value=7), Reading(at=_at(20), value=5))


def test_rules_in_force_are_read_when_the_upstream_state_began():
    rules = RulesInForce(((_at(0), (RuleValues(safety_stock=2),)), (_at(60), (RuleValues(safety_stock=5),))))
    accepts = atp_accepts(rules)

    assert rules.at(_at(-1)) == ()
    assert accepts(Reading(at=_at(30), value=10), Reading(at=_at(90), value=8))  # the state predates the edit
    assert accepts(Reading(at=_at(70), value=10), Reading(at=_at(90), value=5))
    assert not accepts(Reading(at=_at(70), value=10), Reading(at=_at(90), value=8))


def test_a_reading_the_storefronts_own_order_explains_is_not_a_sync():
    orders = [OwnOrder(_at(10), 3)]
    readings = _series((0, 8), (10, 5), (20, 9))

    kept = own_order_readings_drop(readings, orders)

    assert [reading.value for reading in kept] == [8, 9]


def test_sync_instants_are_the_level_stamps_that_no_own_order_explains():
    orders = [OwnOrder(_at(12), 1), OwnOrder(_at(30), 2)]
    # 06:12: the order took 1 off (9 → 8); 06:30: 8 − 2 would be 6 but it shows 3, so a sync
    # (overwritten by the order's stamp before the hub polled) happened by then.
    readings = _series((0, 9), (10, 9), (12, 8), (20, 8), (30, 3))

    assert sync_instants(readings, orders) == [_at(0), _at(10), _at(20), _at(30)]


def test_the_first_sync_after_the_erp_reflected_a_change_is_when_the_storefront_did():
    # WMS 8 → 5 at 06:14 (an allocation to another channel); the ERP reflects it at 06:21; the
    # storefront's syncs at 06:10 and 06:25: the second one carried it (6 → 3 under safety stock 2).
    erp = _series((0, 8), (21, 5))
    storefront = _series((0, 6), (25, 3))

    found = sync_reflections(
        changes=[(1, _at(21))],
        middle=erp,
        middle_lineage=[0, 1],
        downstream=storefront,
        syncs=[_at(0), _at(10), _at(25), _at(35)],
        accepts=atp_accepts([RuleValues(safety_stock=2)]),
    )

    assert found == [(_at(25), SYNC)]


def test_a_change_the_storefront_already_showed_cannot_be_dated_by_a_sync():
    # The storefront's own order of 3 at 06:14 took 6 → 3 at once; the ERP carries it at 06:21,
    # and the sync at 06:25 finds 5 − 2 = 3: nothing moved, so no sync dates the change.
    erp = _series((0, 8), (21, 5))
    storefront = _series((0, 6), (14, 3))

    found = sync_reflections(
        changes=[(1, _at(21))],
        middle=erp,
        middle_lineage=[0, 1],
        downstream=storefront,
        syncs=[_at(0), _at(25)],
        accepts=atp_accepts([RuleValues(safety_stock=2)], [OwnOrder(_at(14), 3)]),
    )

    assert found == [(_at(21), UNCHANGED)]  # dated by the ERP, and left out of the lag statistics


def test_a_sync_that_did_not_include_the_key_does_not_carry_its_change():
    # The ERP has 4 (ATP 2) from 06:21, but the 06:25 sync left the storefront at 6: not carried.
    erp = _series((0, 8), (21, 4))
    storefront = _series((0, 6), (31, 2))

    found = sync_reflections(
        changes=[(1, _at(21))],
        middle=erp,
        middle_lineage=[0, 1],
        downstream=storefront,
        syncs=[_at(25), _at(31)],
        accepts=atp_accepts([RuleValues(safety_stock=2)]),
    )

    assert found == [(_at(31), SYNC)]


def test_under_the_storefront_rule_a_reading_that_states_its_safety_stock_is_judged_by_it_alone():
    lenient = atp_accepts([RuleValues(safety_stock=3)])
    own = atp_accepts([RuleValues(safety_stock=3)], storefront_rule=True)
    erp = Reading(at=_at(0), value=14)

    assert lenient(erp, Reading(at=_at(5), value=11, held_back=1))  # the hub's rule explains 11
    assert not own(erp, Reading(at=_at(5), value=11, held_back=1))  # the storefront itself shows 13
    assert own(erp, Reading(at=_at(5), value=13, held_back=1))
    assert own(erp, Reading(at=_at(5), value=11))  # no safety stock said: the hub's rule


def test_a_change_only_the_hubs_rule_calls_already_shown_is_dated_by_the_sync_that_moves_it():
    # Rule safety stock 3, the storefront holds back 1. ERP 12 → 14 at 06:21 (a count of +2); the
    # storefront shows 11 until its 06:25 sync shows 13. 14 − 3 = 11 is the old number under the
    # hub's rule, but the storefront's own computation moves it: not unchanged.
    erp = _series((0, 12), (21, 14))
    storefront = [Reading(at=_at(0), value=11, held_back=1), Reading(at=_at(25), value=13, held_back=1)]
    rules = [RuleValues(safety_stock=3)]

    found = sync_reflections(
        changes=[(1, _at(21))],
        middle=erp,
        middle_lineage=[0, 1],
        downstream=storefront,
        syncs=[_at(0), _at(25)],
        accepts=atp_accepts(rules),
        shows=atp_accepts(rules, storefront_rule=True),
    )

    assert found == [(_at(25), SYNC)]


def test_a_reading_clamped_at_zero_is_judged_by_the_safety_stock_the_storefront_last_held_back():
    # The storefront held back 1 (3 − 1 = 2 at 06:00), then shows 0 from 06:10 (ERP 1). ERP 1 → 3 at
    # 06:21: under the hub's rule (3) still 0, but the storefront shows 2 after its 06:25 sync.
    erp = _series((0, 3), (10, 1), (21, 3))
    storefront = [
        Reading(at=_at(0), value=2, held_back=1),
        Reading(at=_at(12), value=0),
        Reading(at=_at(25), value=2, held_back=1),
    ]
    rules = [RuleValues(safety_stock=3)]

    found = sync_reflections(
        changes=[(2, _at(21))],
        middle=erp,
        middle_lineage=[0, 1, 2],
        downstream=storefront,
        syncs=[_at(0), _at(12), _at(25)],
        accepts=atp_accepts(rules),
        shows=atp_accepts(rules, storefront_rule=True),
    )

    assert found == [(_at(25), SYNC)]


def test_an_erp_state_no_wms_state_explains_still_carries_what_its_earlier_states_had():
    assert carried_lineage([0, None, 1, None, None, 3]) == [0, 0, 1, 1, 1, 3]
    assert carried_lineage([None, 2]) == [None, 2]


def test_a_sync_after_the_erp_adjusted_itself_carries_the_changes_the_erp_already_had():
    # WMS 8 → 5 reaches the ERP at 06:21; at 06:24 the ERP adjusts itself to 3 (after an oversell),
    # a value no WMS state explains. The storefront's 06:30 sync shows 3 − 2 = 1: it carried 06:21.
    erp = _series((0, 8), (21, 5), (24, 3))
    storefront = _series((0, 6), (30, 1))

    found = sync_reflections(
        changes=[(1, _at(21))],
        middle=erp,
        middle_lineage=[0, 1, None],
        downstream=storefront,
        syncs=[_at(0), _at(30)],
        accepts=atp_accepts([RuleValues(safety_stock=2)]),
    )

    assert found == [(_at(30), SYNC)]


def test_an_erp_reading_net_of_its_own_entries_is_the_synced_state_or_if_the_previous_reading_the_adjustment_alone():
    # WMS 6 → 3 → 2 → 0. The ERP syncs 3 at 06:10 and adjusts itself by −2 at 06:10:02 (read as
    # 1); at 06:40 it adjusts by −1 with no sync (read as 0): the WMS's 0 is a coincidence.
    wms = _series((0, 6), (2, 3), (20, 2), (30, 0))
    adjusted = _at(10) + dt.timedelta(seconds=2)
    erp = [Reading(at=_at(0), value=6), Reading(at=adjusted, value=1), Reading(at=_at(40), value=0)]
    own = [(adjusted, -2.0), (_at(40), -1.0)]

    found = own_entries_lineage(wms, erp, lineages(wms, erp), own)

    assert found == [0, 1, None]
