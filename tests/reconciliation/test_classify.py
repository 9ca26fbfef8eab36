from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.inventory.rules import RuleValues
from inventory_hub.reconciliation.classify import (
    BOUNDARY,
    DRIFT,
    ERP_STOREFRONT,
    IN_FLIGHT,
    RULE,
    STALE,
    WMS_ERP,
    WMS_STOREFRONT,
    HopComparison,
    discrepancy_classify,
    hop_comparison,
)
from inventory_hub.reconciliation.comparable import Comparables

BUDGET = dt.timedelta(minutes=15)
T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)


def _comparables(*, wms, wms_all=None, erp, storefront, safety=2, storefront_safety=2) -> Comparables:
    rule = RuleValues(safety_stock=safety)
    return Comparables(
        wms=wms,
        wms_all_bins=wms if wms_all is None else wms_all,
        erp=erp,
        storefront=storefront,
        rule=rule,
        storefront_safety_stock=storefront_safety,
        expected_atp_from_wms=None if wms is None else max(0, wms - safety),
        expected_atp_from_erp=None if erp is None else max(0, erp - safety),
        wms_changed_at=T0,
        erp_changed_at=T0 + dt.timedelta(minutes=3),
        storefront_changed_at=T0 + dt.timedelta(minutes=1),
    )


def _classify(c: Comparables, hop: str, age: dt.timedelta = dt.timedelta(minutes=1)) -> str | None:
    comparison = hop_comparison(c, hop)
    assert comparison is not None
    return discrepancy_classify(comparison=comparison, age=age, lag_budget=BUDGET)


def test_wms_erp_compares_the_two_comparables_since_the_later_change():
    comparison = hop_comparison(_comparables(wms=10, erp=12, storefront=10), WMS_ERP)

    assert comparison == HopComparison(
        hop=WMS_ERP,
        upstream=10,
        downstream=12,
        boundary_explains=False,
        rule_explains=False,
        since=T0 + dt.timedelta(minutes=3),
    )


def test_storefront_hops_compare_with_the_expected_atp_of_their_source():
    c = _comparables(wms=10, erp=12, storefront=9)

    erp_storefront = hop_comparison(c, ERP_STOREFRONT)
    wms_storefront = hop_comparison(c, WMS_STOREFRONT)

    assert (erp_storefront.upstream, erp_storefront.downstream) == (10, 9)
    assert (wms_storefront.upstream, wms_storefront.downstream) == (8, 9)


def test_a_hop_with_a_missing_side_is_not_compared():
    c = _comparables(wms=10, erp=None, storefront=None)

    assert [hop_comparison(c, hop) for hop in (WMS_ERP, ERP_STOREFRONT, WMS_STOREFRONT)] == [None, None, None]


def test_agreeing_systems_have_no_class():
    assert _classify(_comparables(wms=10, erp=10, storefront=8), WMS_ERP) is None
    assert _classify(_comparables(wms=10, erp=10, storefront=8), WMS_STOREFRONT) is None


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (dt.timedelta(minutes=15), IN_FLIGHT),
        (dt.timedelta(minutes=16), STALE),
        (dt.timedelta(minutes=60), STALE),
        (dt.timedelta(minutes=61), DRIFT),
    ],
)
def test_an_unexplained_gap_ages_from_in_flight_to_stale_to_drift(age, expected):
    assert _classify(_comparables(wms=10, erp=12, storefront=10), WMS_ERP, age) == expected


def test_erp_counting_the_excluded_quarantine_bin_is_a_boundary_gap_at_any_age():
    c = _comparables(wms=10, wms_all=14, erp=14, storefront=12)

    assert _classify(c, WMS_ERP, dt.timedelta(days=3)) == BOUNDARY


def test_an_erp_gap_the_quarantine_bin_does_not_explain_is_not_boundary():
    c = _comparables(wms=10, wms_all=14, erp=13, storefront=11)

    assert _classify(c, WMS_ERP) == IN_FLIGHT


def test_storefront_following_the_erp_boundary_is_a_boundary_gap_end_to_end():
    c = _comparables(wms=10, wms_all=14, erp=14, storefront=12)

    assert _classify(c, WMS_STOREFRONT, dt.timedelta(days=3)) == BOUNDARY
    assert _classify(c, ERP_STOREFRONT) is None


def test_storefront_applying_its_own_safety_stock_while_erp_equals_wms_is_a_rule_gap():
    c = _comparables(wms=10, erp=10, storefront=9, safety=2, storefront_safety=1)

    assert _classify(c, ERP_STOREFRONT, dt.timedelta(days=3)) == RULE
    assert _classify(c, WMS_STOREFRONT, dt.timedelta(days=3)) == RULE


def test_rule_gap_end_to_end_needs_the_erp_to_equal_the_wms():
    c = _comparables(wms=8, erp=10, storefront=9, safety=2, storefront_safety=1)

    assert _classify(c, WMS_STOREFRONT) == IN_FLIGHT
    assert _classify(c, ERP_STOREFRONT) == RULE


def test_storefront_behind_with_the_hubs_own_safety_stock_is_in_flight_not_rule():
    c = _comparables(wms=10, erp=10, storefront=5, safety=2, storefront_safety=2)

    assert _classify(c, ERP_STOREFRONT) == IN_FLIGHT


def test_unknown_hop_is_refused():
    with pytest.raises(ValueError, match="Unknown hop 'erp_wms'"):
        hop_comparison(_comparables(wms=1, erp=1, storefront=1), "erp_wms")
