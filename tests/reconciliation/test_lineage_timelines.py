"""Lineage on hand-built timelines: replayed and shuffled readings, skewed clocks, a failed ERP sync.

WMS changes are stamped on the hub's clock; the ERP's own stamps are not until moved there.
"""

from __future__ import annotations

import datetime as dt

from inventory_hub.reconciliation.lineage import (
    SOURCE_TIMESTAMP,
    VALUE_MATCH,
    Reading,
    Reflection,
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
