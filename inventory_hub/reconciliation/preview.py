"""What an allocation rule edit would do, before it is saved: expected ATP and phantom units, before → after.

For every (location, SKU) of the rule's pool, from the current positions:

- expected ATP = comparable.expected_atp(WMS comparable, governing rule), the governing rule being
  the most generous of the rules in force at the location (comparable.governing_rule), with the
  edited rule's values swapped in for "after";
- phantom units = max(0, storefront available − WMS comparable). "After" assumes the storefront's
  number moves by exactly as much as the expected ATP moves (it keeps today's sync gap):
  max(0, max(0, shown + ATP after − ATP before) − WMS comparable).

The SKUs listed are those whose phantom units move most (the oversell risk), then expected ATP.

Bounded: the totals per location are aggregated in SQL in one query (a location with 100,000 SKUs
never comes into Python), with the same arithmetic as comparable.py (written in SQL as reconciliation/verdicts.py writes it);
only the few SKUs the change moves most are then read back and recomputed with
comparable.key_comparables itself, so the rows shown are exactly what reconciliation computes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence

from django.db import connection
from django.utils import timezone

from inventory_hub.connectors.models import Connector, Role
from inventory_hub.inventory import selectors as inventory_selectors
from inventory_hub.inventory.models import AllocationRule, Location, Pool
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.comparable import HUB_DEFAULT_RULE, key_comparables

TOP_KEYS = 10


@dataclasses.dataclass(frozen=True, slots=True)
class Effect:
    """Expected ATP and phantom units before → after, summed over some keys."""

    keys: int = 0  # keys with a WMS position (expected ATP needs WMS truth)
    keys_changed: int = 0  # keys whose expected ATP changes
    atp_before: int = 0
    atp_after: int = 0
    phantom_before: int = 0
    phantom_after: int = 0

    @property
    def atp_delta(self) -> int:
        return self.atp_after - self.atp_before

    @property
    def phantom_delta(self) -> int:
        return self.phantom_after - self.phantom_before

    def __add__(self, other: Effect) -> Effect:
        return Effect(*(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)))


@dataclasses.dataclass(frozen=True, slots=True)
class LocationEffect:
    location_id: int
    code: str
    effect: Effect
    other_rules: int  # other rules in force there: the most generous one governs the storefront's number


@dataclasses.dataclass(frozen=True, slots=True)
class KeyEffect:
    """One SKU at one location, computed by comparable.key_comparables."""

    location_code: str
    sku: str
    wms: int
    shown: int | None
    atp_before: int
    atp_after: int
    phantom_before: int | None
    phantom_after: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class RulePreview:
    total: Effect
    locations: tuple[LocationEffect, ...]
    top: tuple[KeyEffect, ...]
    top_limit: int
    rule_active: bool = True


def phantom_after(*, shown: int, wms: int, atp_before: int, atp_after: int) -> int:
    """Phantom units once the storefront's number has moved with the expected ATP."""
    return max(0, max(0, shown + atp_after - atp_before) - wms)


def _rule_sets(
    *, rule: AllocationRule, values: RuleValues, at: dt.datetime
) -> dict[int, tuple[tuple[RuleValues, ...], tuple[RuleValues, ...]]]:
    """location_id → (rules in force before, after) at each location of the rule's pool (3 queries).

    The same rules, in the same order, as reconciliation_selectors.rules_in_force_by_location.
    """
    memberships: dict[int, set[int]] = defaultdict(set)
    for pool_id, location_id in Pool.locations.through.objects.values_list("pool_id", "location_id"):
        memberships[pool_id].add(location_id)
    current = inventory_selectors.allocation_rule_current_list(at=at)
    sets = {}
    for location_id in sorted(memberships.get(rule.pool_id, ())):
        before: list[RuleValues] = []
        after: list[RuleValues] = []
        for other, other_values in current:
            if not other.is_active or location_id not in memberships.get(other.pool_id, ()):
                continue
            if other.pk == rule.pk:
                after.append(values)
                if other_values is not None:
                    before.append(other_values)
            elif other_values is not None:
                before.append(other_values)
                after.append(other_values)
        sets[location_id] = (tuple(before), tuple(after))
    return sets


def _atp_sql(rules: Sequence[RuleValues]) -> str:
    """max over rules of comparable.expected_atp(wms, rule), as SQL over the column `wms`.

    Rule values are ints from our dataclass, written as literals so both databases do integer
    arithmetic (truncating where Python floors: they differ only below zero, clamped to 0 alike).
    """
    terms = []
    for rule in rules or (HUB_DEFAULT_RULE,):
        ss, pickup, share = int(rule.safety_stock), int(rule.pickup_reservation), int(rule.channel_share_percent)
        promisable = f"(wms - {ss} - {pickup}) * {share} / 100"
        terms.append(f"(CASE WHEN {promisable} > 0 THEN {promisable} ELSE 0 END)")
    best = terms[0]
    for term in terms[1:]:
        best = f"(CASE WHEN {term} > {best} THEN {term} ELSE {best} END)"
    return best


def _by_rule_set(sets: Mapping[int, tuple[tuple[RuleValues, ...], tuple[RuleValues, ...]]], which: int) -> str:
    """A CASE over location ids, one branch per distinct rule set (pools usually have one or two)."""
    groups: dict[tuple[RuleValues, ...], list[int]] = defaultdict(list)
    for location_id, pair in sets.items():
        groups[pair[which]].append(location_id)
    branches = " ".join(
        f"WHEN location_id IN ({', '.join(str(int(i)) for i in ids)}) THEN {_atp_sql(rules)}"
        for rules, ids in groups.items()
    )
    return f"CASE {branches} END"


def _ids_in(ids: Sequence[int]) -> str:
    literals = ", ".join(str(int(pk)) for pk in ids)
    return f"connector_id IN ({literals})" if literals else "1 = 0"


def _effects_sql(
    *,
    sets: Mapping[int, tuple[tuple[RuleValues, ...], tuple[RuleValues, ...]]],
    connectors: Mapping[str, list[Connector]],
    excluded_bins: Mapping[tuple[int, int], frozenset[str]],
    top: int,
) -> tuple[dict[int, Effect], list[tuple[int, str]]]:
    """Per-location totals and the `top` keys the change moves most, in one query."""
    wms_ids = [c.pk for c in connectors.get(Role.WMS, [])]
    storefront_ids = [c.pk for c in connectors.get(Role.STOREFRONT, [])]
    is_wms, is_storefront = _ids_in(wms_ids), _ids_in(storefront_ids)
    params: list[object] = []
    excluded_cases = ""
    for (connector_id, location_id), bins in sorted(excluded_bins.items()):
        if connector_id in wms_ids and location_id in sets and bins:
            params += sorted(bins)
            excluded_cases += (
                f" WHEN connector_id = {int(connector_id)} AND location_id = {int(location_id)}"
                f" AND bin IN ({', '.join(['%s'] * len(bins))}) THEN -on_hand"
            )
    locations = ", ".join(str(int(i)) for i in sets)
    positions = InventoryPosition._meta.db_table
    phantom_before = "CASE WHEN shown - wms > 0 THEN shown - wms ELSE 0 END"
    moved = "CASE WHEN shown + atp_after - atp_before > 0 THEN shown + atp_after - atp_before ELSE 0 END"
    phantom_after_sql = f"CASE WHEN {moved} - wms > 0 THEN {moved} - wms ELSE 0 END"
    # Built from table names, placeholders and int literals only: every string is a bound parameter.
    sql = f"""
        WITH keyed AS (
            SELECT location_id, sku,
                SUM(CASE WHEN {is_wms} AND bin = '' THEN 1 ELSE 0 END) AS wms_totals,
                SUM(CASE WHEN {is_wms} AND bin = '' THEN on_hand - allocated{excluded_cases} ELSE 0 END) AS wms,
                MAX(CASE WHEN {is_storefront} AND bin = '' THEN available END) AS shown
            FROM {positions}
            WHERE {_ids_in(wms_ids + storefront_ids)} AND location_id IN ({locations})
            GROUP BY location_id, sku
        ),
        judged AS (
            SELECT location_id, sku, wms, shown,
                {_by_rule_set(sets, 0)} AS atp_before,
                {_by_rule_set(sets, 1)} AS atp_after
            FROM keyed
            WHERE wms_totals > 0
        ),
        effects AS (
            SELECT location_id, sku, atp_before, atp_after,
                CASE WHEN shown IS NULL THEN 0 ELSE {phantom_before} END AS phantom_before,
                CASE WHEN shown IS NULL THEN 0 ELSE {phantom_after_sql} END AS phantom_after
            FROM judged
        )
        SELECT location_id, NULL, COUNT(*),
            SUM(CASE WHEN atp_after <> atp_before THEN 1 ELSE 0 END),
            SUM(atp_before), SUM(atp_after), SUM(phantom_before), SUM(phantom_after)
        FROM effects GROUP BY location_id
        UNION ALL
        SELECT * FROM (
            SELECT location_id, sku, 0, 0, 0, 0, 0, 0 FROM effects
            WHERE atp_after <> atp_before OR phantom_after <> phantom_before
            ORDER BY ABS(phantom_after - phantom_before) DESC, ABS(atp_after - atp_before) DESC, location_id, sku
            LIMIT {int(top)}
        ) AS top_keys
    """  # noqa: S608
    totals: dict[int, Effect] = {}
    top_keys: list[tuple[int, str]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_id, sku, *numbers in cursor.fetchall():
            if sku is None:
                totals[location_id] = Effect(*(int(n or 0) for n in numbers))
            else:
                top_keys.append((location_id, sku))
    return totals, top_keys


def _key_effects(
    *,
    keys: Sequence[tuple[int, str]],
    sets: Mapping[int, tuple[tuple[RuleValues, ...], tuple[RuleValues, ...]]],
    connectors: Mapping[str, list[Connector]],
    excluded_bins: Mapping[tuple[int, int], frozenset[str]],
    codes: Mapping[int, str],
) -> list[KeyEffect]:
    """The top keys recomputed with comparable.key_comparables (one query per role)."""
    observations = reconciliation_selectors.key_observation_map(
        scope=reconciliation_selectors.scope_from_keys(keys),
        connectors=connectors,
        excluded_bins=excluded_bins,
        rules={location_id: pair[0] for location_id, pair in sets.items()},
    )
    effects = []
    for location_id, sku in keys:
        observation = observations.get((location_id, sku))
        if observation is None or not observation.wms:
            continue
        before = key_comparables(observation)
        after = key_comparables(dataclasses.replace(observation, rules=sets[location_id][1]))
        wms = before.wms
        atp_before, atp_after = before.expected_atp_from_wms, after.expected_atp_from_wms
        if wms is None or atp_before is None or atp_after is None:
            continue
        shown = max((p.available for p in observation.storefronts), default=None)
        effects.append(
            KeyEffect(
                location_code=codes.get(location_id, "?"),
                sku=sku,
                wms=wms,
                shown=shown,
                atp_before=atp_before,
                atp_after=atp_after,
                phantom_before=None if shown is None else max(0, shown - wms),
                phantom_after=None
                if shown is None
                else phantom_after(shown=shown, wms=wms, atp_before=atp_before, atp_after=atp_after),
            )
        )
    return effects


def rule_change_preview(
    *, rule: AllocationRule, values: RuleValues, now: dt.datetime | None = None, top: int = TOP_KEYS
) -> RulePreview:
    """The effect of giving `rule` these values now, over every location of its pool."""
    now = now or timezone.now()
    if not rule.is_active:
        return RulePreview(total=Effect(), locations=(), top=(), top_limit=top, rule_active=False)
    sets = _rule_sets(rule=rule, values=values, at=now)
    if not sets:
        return RulePreview(total=Effect(), locations=(), top=(), top_limit=top)
    connectors = reconciliation_selectors.reconciliation_connector_list()
    excluded_bins = reconciliation_selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]])
    codes = dict(Location.objects.filter(pk__in=list(sets)).values_list("pk", "code"))
    totals, top_keys = _effects_sql(sets=sets, connectors=connectors, excluded_bins=excluded_bins, top=top)
    locations = tuple(
        LocationEffect(
            location_id=i,
            code=codes.get(i, "?"),
            effect=totals.get(i, Effect()),
            other_rules=len(sets[i][1]) - 1,
        )
        for i in sorted(sets, key=lambda i: codes.get(i, ""))
    )
    total = sum((location.effect for location in locations), Effect())
    top_effects = (
        _key_effects(keys=top_keys, sets=sets, connectors=connectors, excluded_bins=excluded_bins, codes=codes)
        if top_keys
        else []
    )
    return RulePreview(total=total, locations=locations, top=tuple(top_effects), top_limit=top)
