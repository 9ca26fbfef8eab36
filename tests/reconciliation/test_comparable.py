from __future__ import annotations

import datetime as dt

from inventory_hub.inventory.rules import RuleValues
from inventory_hub.reconciliation.comparable import (
    KeyObservation,
    Position,
    RuleDrift,
    WmsPosition,
    erp_comparable,
    expected_atp,
    governing_rule,
    key_comparables,
    rule_drift,
    storefront_safety_stock,
    wms_comparable,
)

T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)


def test_wms_comparable_leaves_out_excluded_bins_and_allocated():
    result = wms_comparable(on_hand=20, allocated=3, bins={"MAIN": 16, "QUARANTINE": 4}, excluded_bins={"QUARANTINE"})

    assert result == 13


def test_wms_comparable_counts_every_bin_when_none_is_excluded():
    result = wms_comparable(on_hand=20, allocated=3, bins={"MAIN": 16, "QUARANTINE": 4}, excluded_bins=frozenset())

    assert result == 17


def test_erp_comparable_is_actual_minus_reserved():
    assert erp_comparable(on_hand=12, allocated=5) == 7


def test_expected_atp_holds_back_safety_stock():
    assert expected_atp(10, RuleValues(safety_stock=2)) == 8


def test_expected_atp_takes_pickup_reservation_off_the_top_then_the_channel_share_rounded_down():
    rule = RuleValues(safety_stock=2, pickup_reservation=3, channel_share_percent=50)

    assert expected_atp(20, rule) == 7  # (20 − 2 − 3) × 50 % = 7.5 → 7


def test_expected_atp_is_never_negative():
    assert expected_atp(1, RuleValues(safety_stock=2)) == 0
    assert expected_atp(-4, RuleValues()) == 0


def test_governing_rule_is_the_one_that_promises_most():
    strict, generous = RuleValues(safety_stock=5), RuleValues(safety_stock=1)

    assert governing_rule(10, [strict, generous]) == generous


def test_governing_rule_defaults_to_promising_everything_outside_any_pool():
    assert governing_rule(10, []) == RuleValues(safety_stock=0, channel_share_percent=100, pickup_reservation=0)


def test_storefront_safety_stock_is_what_on_hand_holds_beyond_allocated_and_available():
    assert storefront_safety_stock(Position(on_hand=12, allocated=3, available=8)) == 1


def test_storefront_safety_stock_is_unknown_at_zero_available():
    assert storefront_safety_stock(Position(on_hand=2, allocated=0, available=0)) is None


def test_rule_drift_reports_a_differing_safety_stock():
    assert rule_drift(effective_safety_stock=1, rule=RuleValues(safety_stock=2)) == RuleDrift(1, 2)


def test_rule_drift_is_none_when_safety_stocks_agree_or_are_unknown():
    assert rule_drift(effective_safety_stock=2, rule=RuleValues(safety_stock=2)) is None
    assert rule_drift(effective_safety_stock=None, rule=RuleValues(safety_stock=2)) is None


def test_key_comparables_maps_each_system_through_its_boundary():
    observation = KeyObservation(
        wms=(
            WmsPosition(
                total=Position(on_hand=20, allocated=3, available=13, changed_at=T0),
                bins={"MAIN": 16, "QUARANTINE": 4},
                excluded_bins=frozenset({"QUARANTINE"}),
                bins_changed_at=T0 + dt.timedelta(minutes=5),
            ),
        ),
        erp=(Position(on_hand=20, allocated=3, available=17, changed_at=T0 + dt.timedelta(minutes=1)),),
        storefronts=(Position(on_hand=20, allocated=0, available=15, changed_at=T0 + dt.timedelta(minutes=2)),),
        rules=(RuleValues(safety_stock=2),),
    )

    result = key_comparables(observation)

    assert (result.wms, result.wms_all_bins, result.erp, result.storefront) == (13, 17, 17, 15)
    assert (result.expected_atp_from_wms, result.expected_atp_from_erp) == (11, 15)
    assert result.storefront_safety_stock == 5
    assert result.wms_changed_at == T0 + dt.timedelta(minutes=5)


def test_key_comparables_lets_the_worst_storefront_speak_for_the_location():
    observation = KeyObservation(
        wms=(WmsPosition(total=Position(on_hand=10, allocated=0, available=10)),),
        storefronts=(Position(on_hand=10, allocated=0, available=10), Position(on_hand=10, allocated=0, available=4)),
    )

    result = key_comparables(observation)

    assert result.storefront == 4


def test_key_comparables_is_none_for_a_system_without_a_position():
    observation = KeyObservation(erp=(Position(on_hand=5, allocated=1, available=4),))

    result = key_comparables(observation)

    assert (result.wms, result.erp, result.storefront, result.expected_atp_from_wms) == (None, 4, None, None)
