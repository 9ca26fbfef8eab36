"""Which pair each hop compares, and the class of a discrepancy (DESIGN.md §3): pure, no database.

Each hop compares an upstream number with a downstream one:

- `wms_erp`: the WMS comparable with the ERP comparable.
- `erp_storefront`: the expected ATP computed from the ERP comparable with the storefront's
  available (the storefront legitimately holds back safety stock, so it is compared with what
  it *should* show from its own source).
- `wms_storefront`: the expected ATP from WMS truth with the storefront's available.

Classification, first match wins:

1. `boundary` — the gap vanishes when the WMS counts the bins its boundary excludes (e.g. the
   ERP counts the quarantine bin: ERP == WMS on hand in every bin − allocated).
2. `rule` — the storefront shows what the hub's rule would give with the storefront's own
   effective safety stock instead of the hub's (for `wms_storefront` also only while ERP = WMS).
3. `in_flight` — open no longer than the hop's lag budget.
4. `drift` — open longer than DRIFT_BUDGETS × the lag budget, and none of the above explains it.
5. `stale` — past the lag budget: a sync is failing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from inventory_hub.reconciliation.comparable import Comparables, expected_atp

WMS_ERP = "wms_erp"
ERP_STOREFRONT = "erp_storefront"
WMS_STOREFRONT = "wms_storefront"
HOPS = (WMS_ERP, ERP_STOREFRONT, WMS_STOREFRONT)

IN_FLIGHT = "in_flight"
STALE = "stale"
BOUNDARY = "boundary"
RULE = "rule"
DRIFT = "drift"

# Open this many lag budgets and still unexplained: no longer a slow sync but persistent drift.
DRIFT_BUDGETS = 4


@dataclasses.dataclass(frozen=True, slots=True)
class HopComparison:
    """The upstream and downstream numbers of one hop for one (location, SKU), and what explains the gap."""

    hop: str
    upstream: int
    downstream: int
    boundary_explains: bool
    rule_explains: bool
    # When the hub first saw the later of the compared values: the gap cannot be older.
    since: dt.datetime | None

    @property
    def gap(self) -> int:
        return self.downstream - self.upstream


def _latest(*times: dt.datetime | None) -> dt.datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _storefront_explained_by(c: Comparables, comparable: int | None, *, own_rule: bool) -> bool:
    """Would the storefront's available follow from `comparable` under the hub's (or its own) rule?"""
    if comparable is None or c.storefront is None:
        return False
    rule = c.rule
    if own_rule:
        if c.storefront_safety_stock is None or c.storefront_safety_stock == rule.safety_stock:
            return False
        rule = dataclasses.replace(rule, safety_stock=c.storefront_safety_stock)
    return expected_atp(comparable, rule) == c.storefront


def hop_comparison(c: Comparables, hop: str) -> HopComparison | None:
    """The hop's pair for one (location, SKU); None when either system has no position there."""
    bins_excluded = c.wms_all_bins is not None and c.wms_all_bins != c.wms
    if hop == WMS_ERP:
        if c.wms is None or c.erp is None:
            return None
        return HopComparison(
            hop=hop,
            upstream=c.wms,
            downstream=c.erp,
            boundary_explains=bins_excluded and c.erp == c.wms_all_bins,
            rule_explains=False,
            since=_latest(c.wms_changed_at, c.erp_changed_at),
        )
    if hop == ERP_STOREFRONT:
        if c.expected_atp_from_erp is None or c.storefront is None:
            return None
        return HopComparison(
            hop=hop,
            upstream=c.expected_atp_from_erp,
            downstream=c.storefront,
            boundary_explains=False,  # the storefront draws its boundary from the ERP's sites
            rule_explains=_storefront_explained_by(c, c.erp, own_rule=True),
            since=_latest(c.erp_changed_at, c.storefront_changed_at),
        )
    if hop == WMS_STOREFRONT:
        if c.expected_atp_from_wms is None or c.storefront is None:
            return None
        return HopComparison(
            hop=hop,
            upstream=c.expected_atp_from_wms,
            downstream=c.storefront,
            # The storefront inherits its source's boundary, so only when the ERP (if known)
            # counts the excluded bins too; under the hub's rule or the storefront's own.
            boundary_explains=bins_excluded
            and (c.erp is None or c.erp == c.wms_all_bins)
            and (
                _storefront_explained_by(c, c.wms_all_bins, own_rule=False)
                or _storefront_explained_by(c, c.wms_all_bins, own_rule=True)
            ),
            rule_explains=c.erp == c.wms and _storefront_explained_by(c, c.wms, own_rule=True),
            since=_latest(c.wms_changed_at, c.storefront_changed_at),
        )
    raise ValueError(f"Unknown hop {hop!r}; expected one of {', '.join(HOPS)}.")


def discrepancy_classify(*, comparison: HopComparison, age: dt.timedelta, lag_budget: dt.timedelta) -> str | None:
    """The class of the gap (see the module docstring); None when the two systems agree."""
    if comparison.gap == 0:
        return None
    if comparison.boundary_explains:
        return BOUNDARY
    if comparison.rule_explains:
        return RULE
    if age <= lag_budget:
        return IN_FLIGHT
    if age > lag_budget * DRIFT_BUDGETS:
        return DRIFT
    return STALE
