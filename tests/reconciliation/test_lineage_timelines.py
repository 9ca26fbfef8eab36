"""Lineage on hand-built timelines: replayed and shuffled readings, skewed clocks, a failed ERP sync,
and the storefront hop of changes a poll or the ERP's own entries hide.

WMS changes are stamped on the hub's clock; the ERP's own stamps are not until moved there.
"""

from __future__ import annotations

import datetime as dt

from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import EventKind
from inventory_hub.reconciliation.hop_lags import _key_samples
from inventory_hub.reconciliation.lineage import (
    SOURCE_TIMESTAMP,
    VALUE_MATCH,
    OwnOrder,
    Reading,
    Reflection,
    RulesInForce,
    chained_lineage,
    clock_offset_estimate,
    first_reflections,
    lag_stats,
    lineages,
    on_hub_clock,
    source_reflection,
    sources_preferred,
    value_reflections,
)

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _series(*points: tuple[float, int]) -> list[Reading]:
    return [Reading(at=_at(minutes), value=value) for minutes, value in points]


def _seen(reflections: list[Reflection]) -> list[tuple[dt.datetime, dt.datetime | None, str]]:
    # Without upstream_index: a replayed upstream reading shifts indexes, not what was reflected when.
    return [(r.changed_at, r.reflected_at, r.method) for r in reflections]


# WMS: 10 → 8 at the 10:02 count → 6 at the 10:07 pick. The ERP syncs at 10:05 and 10:12.
WMS = _series((0, 10), (2, 8), (7, 6))
ERP = _series((0, 10), (5, 8), (12, 6))


def test_an_erp_reading_polled_twice_does_not_count_as_a_second_reflection():
    clean = value_reflections(WMS, ERP)

    twice = value_reflections(WMS, [*ERP[:2], ERP[1], ERP[2], ERP[2]])

    assert twice == clean
    assert lag_stats(r.lag.total_seconds() for r in twice if r.lag is not None) == lag_stats([180.0, 300.0])


def test_a_wms_state_reported_twice_is_one_change_not_two():
    twice = value_reflections([WMS[0], WMS[1], WMS[1], WMS[2]], ERP)

    assert _seen(twice) == [(_at(2), _at(5), VALUE_MATCH), (_at(7), _at(12), VALUE_MATCH)]


def test_erp_readings_given_out_of_order_reflect_the_same_changes_at_the_same_times():
    clean = value_reflections(WMS, ERP)

    shuffled = value_reflections(WMS, [ERP[2], ERP[0], ERP[1]])

    assert shuffled == clean


def test_clock_offset_from_polls_is_off_by_at_most_the_quickest_poll_and_so_is_the_lag():
    erp_ahead = dt.timedelta(minutes=2)
    # The ERP really changed at 10:05 and 10:12; the hub saw those changes 40 s and 5 s later.
    true_times = [_at(5), _at(12)]
    delays = [dt.timedelta(seconds=40), dt.timedelta(seconds=5)]
    pairs = [(at + erp_ahead, at + delay) for at, delay in zip(true_times, delays, strict=True)]

    offset = clock_offset_estimate(pairs)
    erp = [
        ERP[0],
        *(Reading(at=on_hub_clock(stamp, offset), value=v) for (stamp, _), v in zip(pairs, (8, 6), strict=True)),
    ]

    assert offset == erp_ahead - dt.timedelta(seconds=5)
    assert [r.lag for r in value_reflections(WMS, erp)] == [
        dt.timedelta(minutes=3, seconds=5),  # true lag 3 min, plus the quickest poll's 5 s
        dt.timedelta(minutes=5, seconds=5),
    ]


def test_a_ledger_entry_an_erp_clock_estimate_would_put_before_its_movement_has_zero_lag():
    # The ERP's entry for the 10:02 count was created at 10:02:30 on its clock, but the offset
    # estimate (from other changes) says its clock is a minute ahead: 10:01:30 on the hub's.
    posted, reflected = source_reflection(posted_at=_at(2), created_at=_at(2.5), offset=dt.timedelta(minutes=1))

    assert (posted, reflected) == (_at(2), _at(2))


def test_ledger_entries_stamped_on_a_clock_running_behind_give_the_lag_value_matching_cannot():
    erp_behind = dt.timedelta(minutes=-4)
    # Two movements before one poll: value matching can only say "by the 10:12 reading" for both.
    wms = _series((0, 10), (2, 8), (7, 6))
    erp = _series((0, 10), (12, 6))
    entries = [(_at(2), _at(3) + erp_behind), (_at(7), _at(9) + erp_behind)]

    sources = [source_reflection(posted_at=p, created_at=c, offset=erp_behind) for p, c in entries]
    preferred = sources_preferred(value_reflections(wms, erp), sources)

    assert _seen(preferred) == [(_at(2), _at(3), SOURCE_TIMESTAMP), (_at(7), _at(9), SOURCE_TIMESTAMP)]
    assert [r.lag for r in preferred] == [dt.timedelta(minutes=1), dt.timedelta(minutes=2)]


def test_a_failed_erp_sync_leaves_the_count_unreflected_by_the_erp_and_through_it_by_the_storefront():
    # The 10:02 count never reached the ERP (its 10:05 sync failed and it still says 10); the
    # storefront, pulling from the ERP, keeps showing 10 at 10:06 and 10:14.
    wms = _series((0, 10), (2, 8))
    erp = _series((0, 10))
    storefront = _series((0, 10), (6, 10), (14, 10))

    erp_lineage = lineages(wms, erp)
    through_erp = chained_lineage(erp_lineage, lineages(erp, storefront))

    assert erp_lineage == [0]
    assert through_erp == [0, 0, 0]
    assert first_reflections(wms, erp, erp_lineage) == {1: None}
    assert first_reflections(wms, storefront, through_erp) == {1: None}


# The storefront holds back 1, as the hub's rule says.
STOREFRONT_RULES = RulesInForce(((_at(-60), (RuleValues(safety_stock=1),)),))


def _storefront_samples(**timeline) -> list[tuple[str, dt.datetime, dt.datetime | None, str]]:
    timeline = {"sources": [], "wms_events": [], "moved": {}, "since": None, **timeline}
    samples = _key_samples(key=(1, "SKU-1"), rules=STOREFRONT_RULES, look_back=dt.timedelta(hours=6), **timeline)
    return sorted((s.hop, s.wms_changed_at, s.reflected_at, s.method) for s in samples)


def test_an_erp_sync_its_own_adjustment_hides_before_the_poll_still_carries_the_wms_change():
    # The WMS allocates 3 to wholesale at 10:02 (6 → 3; no ledger entry). The ERP syncs at 10:10
    # (3) and two seconds later adjusts itself by −2 after an oversell: the hub only ever reads 1,
    # which no WMS state has. The storefront's 10:15 pull shows max(0, 1 − 1) = 0.
    adjusted = _at(10) + dt.timedelta(seconds=2)

    found = _storefront_samples(
        wms=_series((0, 6), (2, 3)),
        erp=[Reading(at=_at(0), value=6), Reading(at=adjusted, value=1)],
        storefronts=[([Reading(at=_at(0), value=5, held_back=1), Reading(at=_at(15), value=0)], [])],
        sources=[(adjusted, adjusted)],
        moved={adjusted: -2.0},
    )

    assert found == [
        ("erp_storefront", _at(2), _at(15), "sync"),
        ("wms_erp", _at(2), adjusted, VALUE_MATCH),
        ("wms_storefront", _at(2), _at(15), "sync"),
    ]


def test_a_count_the_storefronts_own_order_nets_out_in_the_same_poll_is_still_learned_by_its_sync():
    # One poll sees a count of +2 at 10:01 and the storefront's own order of 2 at 10:03: the WMS
    # comparable stays 5. The storefront took the order off at once (4 → 2); the ERP records the
    # count at 10:10 and the storefront's 10:15 pull shows 5 − 1 = 4: it learned the +2 then.
    found = _storefront_samples(
        wms=_series((0, 5), (3, 5)),
        erp=_series((0, 5), (10, 5)),
        storefronts=[
            (
                [Reading(at=_at(m), value=v, held_back=1) for m, v in ((0, 4), (3, 2), (15, 4))],
                [OwnOrder(at=_at(3), quantity=2)],
            )
        ],
        sources=[(_at(1), _at(10))],
        wms_events=[(_at(1), EventKind.CYCLE_COUNT)],
        moved={_at(1): 2.0},
    )

    assert found == [
        ("erp_storefront", _at(1), _at(15), "sync"),
        ("wms_erp", _at(1), _at(10), SOURCE_TIMESTAMP),
        ("wms_storefront", _at(1), _at(15), "sync"),
    ]


def test_an_erp_counting_sellable_bins_only_is_not_already_showing_a_change_its_old_number_equals_in_all_bins():
    # 2 of 9 units sit in quarantine; the ERP, like the comparable, leaves them out (7). A wholesale
    # allocation of 2 at 10:02 makes the comparable 5 and the all-bins quantity 7: the ERP's old 7
    # is not this state's. The ERP carries it at 10:30 (5), the storefront at 10:40 (4).
    found = _storefront_samples(
        wms=[Reading(at=_at(0), value=7, alternatives=(9,)), Reading(at=_at(2), value=5, alternatives=(7,))],
        erp=_series((0, 7), (30, 5)),
        storefronts=[([Reading(at=_at(0), value=6, held_back=1), Reading(at=_at(40), value=4, held_back=1)], [])],
    )

    assert found == [
        ("erp_storefront", _at(2), _at(40), "sync"),
        ("wms_erp", _at(2), _at(30), VALUE_MATCH),
        ("wms_storefront", _at(2), _at(40), "sync"),
    ]


def test_an_erp_adjustment_that_happens_to_equal_a_wms_state_is_not_the_sync_that_carried_it():
    # The storefront's own order of 1 at 10:02 takes the WMS from 3 to 2. At 10:05 the ERP adjusts
    # itself by −1 after an oversell: its 3 becomes 2 too, by coincidence. Its 10:30 sync carries
    # the order (reserved +1) and reconciles the adjustment (+1): still 2, now for the WMS's reason.
    found = _storefront_samples(
        wms=_series((0, 3), (2, 2)),
        erp=_series((0, 3), (5, 2), (30, 2)),
        storefronts=[([Reading(at=_at(0), value=2, held_back=1), Reading(at=_at(2), value=1)], [OwnOrder(_at(2), 1)])],
        sources=[(_at(5), _at(5)), (_at(30), _at(30))],
        moved={_at(5): -1.0, _at(30): 1.0},
    )

    assert ("wms_erp", _at(2), _at(30), VALUE_MATCH) in found
