"""Comparable quantities through pool boundaries, expected ATP and rule drift: pure, no database.

What each system says about one (location, SKU) comes in as plain dataclasses; the numbers the
three systems can be compared on come out (DESIGN.md §3, issue 5 items 1 and 3):

- WMS: on hand in the boundary's bins minus allocated =
  location total on_hand − on_hand of the bins the WMS boundary excludes there − allocated.
- ERP: actual minus reserved = its position's on_hand − allocated.
- Storefront: available.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from inventory_hub.inventory.rules import RuleValues

HUB_DEFAULT_RULE = RuleValues()  # a location in no pool: nothing held back, the whole stock promised


@dataclasses.dataclass(frozen=True, slots=True)
class Position:
    """One system's values for one (location, SKU), as stored by the hub."""

    on_hand: int
    allocated: int
    available: int
    changed_at: dt.datetime | None = None
    connector_id: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class WmsPosition:
    """A WMS location total with the on-hand of each of its bins and the bins its boundary excludes."""

    total: Position
    bins: Mapping[str, int] = dataclasses.field(default_factory=dict)
    excluded_bins: frozenset[str] = frozenset()
    # The latest change of any bin row: a move into quarantine leaves the total row as it was.
    bins_changed_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class KeyObservation:
    """What every enabled system says about one (location, SKU), and the rules in force there."""

    wms: tuple[WmsPosition, ...] = ()
    erp: tuple[Position, ...] = ()
    storefronts: tuple[Position, ...] = ()
    # The values of every active rule whose pool holds the location, in a stable order.
    rules: tuple[RuleValues, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Comparables:
    """The comparable quantities of one (location, SKU); None where that system has no position."""

    wms: int | None
    wms_all_bins: int | None  # as if the WMS boundary excluded no bin (how a whole-site ERP counts)
    erp: int | None
    storefront: int | None
    rule: RuleValues  # the hub's governing rule at this location
    storefront_safety_stock: int | None  # the storefront's effective safety stock, when inferable
    expected_atp_from_wms: int | None
    expected_atp_from_erp: int | None
    wms_changed_at: dt.datetime | None = None
    erp_changed_at: dt.datetime | None = None
    storefront_changed_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RuleDrift:
    """A system's effective safety stock differs from the hub's rule at one (location, SKU)."""

    effective_safety_stock: int
    hub_safety_stock: int


def wms_comparable(*, on_hand: int, allocated: int, bins: Mapping[str, int], excluded_bins: Collection[str]) -> int:
    """On hand in the boundary's bins minus allocated."""
    excluded = sum(quantity for name, quantity in bins.items() if name in excluded_bins)
    return on_hand - excluded - allocated


def erp_comparable(*, on_hand: int, allocated: int) -> int:
    """Actual minus reserved."""
    return on_hand - allocated


def expected_atp(comparable: int, rule: RuleValues) -> int:
    """What the storefront should show for a pool at one location, from a comparable quantity.

    expected = max(0, floor((comparable − safety_stock − pickup_reservation) × channel_share_percent / 100))

    Safety stock and the pickup reservation come off the top (no channel of the pool may promise
    them); the channel then gets its share of the rest, rounded down because a fraction of a unit
    cannot be promised; never below zero. Channel priority orders channels competing for the
    same units and does not change one channel's number, so it is not in the formula.
    """
    promisable = comparable - rule.safety_stock - rule.pickup_reservation
    return max(0, promisable * rule.channel_share_percent // 100)


def governing_rule(comparable: int | None, rules: Sequence[RuleValues]) -> RuleValues:
    """The rule the storefront's location-level number answers to: the one that promises the most.

    A storefront shows one available per location for every channel selling from it, so it
    should show what the most generous pool covering the location may promise; ties go to the
    first rule given (the selector orders them by pool and channel code).
    """
    if not rules:
        return HUB_DEFAULT_RULE
    base = comparable or 0
    return max(rules, key=lambda rule: expected_atp(base, rule))  # max keeps the first of equals


def storefront_safety_stock(position: Position) -> int | None:
    """The storefront's effective safety stock: on hand − allocated − available, when inferable.

    A storefront's on hand is what it promises plus what it holds (committed, reserved, safety:
    Shopify's named quantities). At zero available the number is clamped and says nothing.
    """
    if position.available <= 0:
        return None
    return max(0, position.on_hand - position.allocated - position.available)


def rule_drift(*, effective_safety_stock: int | None, rule: RuleValues) -> RuleDrift | None:
    """The drift between a system's effective safety stock and the hub's, None when they agree."""
    if effective_safety_stock is None or effective_safety_stock == rule.safety_stock:
        return None
    return RuleDrift(effective_safety_stock=effective_safety_stock, hub_safety_stock=rule.safety_stock)


def _latest(*times: dt.datetime | None) -> dt.datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def key_comparables(observation: KeyObservation) -> Comparables:
    """The comparable quantities and expected ATPs of one (location, SKU).

    Several connectors of one role (two WMSs each at their own sites) add up; of several
    storefronts the one furthest from the expected ATP speaks for the location, so a second
    storefront's gap is never hidden by the first one agreeing.
    """
    wms = wms_all = None
    if observation.wms:
        wms = sum(
            wms_comparable(
                on_hand=p.total.on_hand, allocated=p.total.allocated, bins=p.bins, excluded_bins=p.excluded_bins
            )
            for p in observation.wms
        )
        wms_all = sum(p.total.on_hand - p.total.allocated for p in observation.wms)
    erp = (
        sum(erp_comparable(on_hand=p.on_hand, allocated=p.allocated) for p in observation.erp)
        if observation.erp
        else None
    )
    rule = governing_rule(wms if wms is not None else erp, observation.rules)
    from_wms = expected_atp(wms, rule) if wms is not None else None
    from_erp = expected_atp(erp, rule) if erp is not None else None

    storefront: Position | None = None
    if observation.storefronts:
        target = from_wms if from_wms is not None else from_erp
        storefront = max(
            observation.storefronts,
            key=lambda p: abs(p.available - target) if target is not None else 0,
        )
    return Comparables(
        wms=wms,
        wms_all_bins=wms_all,
        erp=erp,
        storefront=storefront.available if storefront else None,
        rule=rule,
        storefront_safety_stock=storefront_safety_stock(storefront) if storefront else None,
        expected_atp_from_wms=from_wms,
        expected_atp_from_erp=from_erp,
        wms_changed_at=_latest(*(t for p in observation.wms for t in (p.total.changed_at, p.bins_changed_at))),
        erp_changed_at=_latest(*(p.changed_at for p in observation.erp)),
        storefront_changed_at=storefront.changed_at if storefront else None,
    )
