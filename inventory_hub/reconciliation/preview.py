"""What an allocation rule edit would do, before it is saved: expected ATP and phantom units, before → after.

For every (location, SKU) of the rule's pool, from the current positions:

- expected ATP = comparable.expected_atp(WMS comparable, governing rule), the governing rule being
  the most generous of the rules in force at the location (comparable.governing_rule), with the
  edited rule's values swapped in for "after";
- phantom units = max(0, storefront available − WMS comparable). "After" assumes the storefront's
  number moves by exactly as much as the expected ATP moves (it keeps today's sync gap):
  max(0, max(0, shown + ATP after − ATP before) − WMS comparable).

The SKUs listed are those whose phantom units move most (the oversell risk), then expected ATP.

Bounded, and answered between two polls without reading the positions again: one SQL query
(_pairs_sql, the comparable quantities summed as reconciliation/verdicts.py sums them) counts the
pool's keys by (location, WMS comparable, storefront shown) — every figure above depends on nothing
else, and the benchmark's 100,000 keys make 881 pairs — and keeps the first few SKUs of each pair. The
pairs are cached under the newest succeeded poll run of each WMS and storefront connector, which
moves whenever positions do; the totals and the top SKUs are then computed from them in Python with
comparable.expected_atp and comparable.governing_rule themselves, whatever values are being typed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from django.core.cache import cache
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from inventory_hub.connectors.models import Connector, PollRun, Role
from inventory_hub.inventory import selectors as inventory_selectors
from inventory_hub.inventory.models import AllocationRule, Pool
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.comparable import expected_atp, governing_rule

TOP_KEYS = 10
# A safety net only: a poll storing positions already moves the key (_connectors_and_version).
PAIRS_CACHE_SECONDS = 300


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
    """One SKU at one location: its pair's figures, as comparable.key_comparables computes them."""

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
) -> tuple[dict[int, tuple[tuple[RuleValues, ...], tuple[RuleValues, ...]]], dict[int, str]]:
    """location_id → (rules in force before, after) at each location of the rule's pool, and their codes (3 queries).

    The same rules, in the same order, as reconciliation_selectors.rules_in_force_by_location.
    """
    memberships: dict[int, set[int]] = defaultdict(set)
    codes: dict[int, str] = {}
    for pool_id, location_id, code in Pool.locations.through.objects.values_list(
        "pool_id", "location_id", "location__code"
    ):
        memberships[pool_id].add(location_id)
        if pool_id == rule.pool_id:
            codes[location_id] = code
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
    return sets, codes


def _ids_in(ids: Sequence[int]) -> str:
    literals = ", ".join(str(int(pk)) for pk in ids)
    return f"connector_id IN ({literals})" if literals else "1 = 0"


class PairKeys(NamedTuple):
    """The keys of one location that share one (WMS comparable, storefront shown) pair.

    A named tuple, not a dataclass: the cache unpickles a few hundred of them per request,
    twice as fast as dataclasses.
    """

    location_id: int
    wms: int
    shown: int | None  # None: no storefront position
    keys: int
    # Its first keys in the database's SKU order, and their ordinals: each key's rank among the
    # location's keys in that order, so keys of different pairs sort as SQL sorts them.
    ordinals: tuple[int, ...]
    skus: tuple[str, ...]


PairKey = tuple[int, int, int | None]  # location_id, wms, shown


def _connectors_and_version() -> tuple[list[int], list[int], tuple[tuple[int, int | None], ...]]:
    """The enabled WMS and storefront connectors, and each one's newest succeeded poll run (one query).

    The runs are the positions' version: positions are written only by a poll's store
    (observations.services.poll_store), in the transaction that marks its run succeeded with the
    number of positions it changed, and one connector's polls run one at a time (the claim), so
    the newest run that changed any grows with every change.
    """
    newest = (
        # A poll that changed no position leaves the pairs as they were: it does not count.
        PollRun.objects.filter(connector_id=OuterRef("pk"), status=PollRun.Status.SUCCEEDED, positions_changed__gt=0)
        .order_by("-pk")
        .values("pk")[:1]
    )
    rows = list(
        Connector.objects.filter(enabled=True, role__in=[Role.WMS, Role.STOREFRONT])
        .order_by("pk")
        .annotate(newest_run=Subquery(newest))
        .values_list("pk", "role", "newest_run")
    )
    wms_ids = [pk for pk, role, _ in rows if role == Role.WMS]
    storefront_ids = [pk for pk, role, _ in rows if role == Role.STOREFRONT]
    return wms_ids, storefront_ids, tuple((pk, run) for pk, _, run in rows)


def _pairs_sql(
    *,
    location_ids: Sequence[int],
    wms_ids: Sequence[int],
    storefront_ids: Sequence[int],
    excluded_bins: Mapping[tuple[int, int], frozenset[str]],
    sample: int,
) -> list[PairKeys]:
    """The pool's keys with WMS truth, counted by (location, WMS comparable, storefront shown), in one query.

    The comparable quantities are summed as reconciliation/verdicts.py sums them in SQL. Each pair
    keeps its first `sample` keys: a top list of at most `sample` keys never needs more of any pair.
    """
    is_wms, is_storefront = _ids_in(wms_ids), _ids_in(storefront_ids)
    params: list[object] = []
    excluded_cases = ""
    for (connector_id, location_id), bins in sorted(excluded_bins.items()):
        if connector_id in wms_ids and location_id in location_ids and bins:
            params += sorted(bins)
            excluded_cases += (
                f" WHEN connector_id = {int(connector_id)} AND location_id = {int(location_id)}"
                f" AND bin IN ({', '.join(['%s'] * len(bins))}) THEN -on_hand"
            )
    locations = ", ".join(str(int(i)) for i in location_ids)
    positions = InventoryPosition._meta.db_table
    # Built from table names, placeholders and int literals only: every string is a bound parameter.
    # The ordinal is numbered first, over the (location, SKU) order the grouping already produced;
    # the pairs' windows then sort by integers, not by SKU text.
    sql = f"""
        WITH keyed AS (
            SELECT location_id, sku,
                SUM(CASE WHEN {is_wms} AND bin = '' THEN 1 ELSE 0 END) AS wms_totals,
                SUM(CASE WHEN {is_wms} AND bin = '' THEN on_hand - allocated{excluded_cases} ELSE 0 END) AS wms,
                MAX(CASE WHEN {is_storefront} AND bin = '' THEN available END) AS shown
            FROM {positions}
            WHERE {_ids_in([*wms_ids, *storefront_ids])} AND location_id IN ({locations})
            GROUP BY location_id, sku
        ),
        ordered AS (
            SELECT location_id, sku, wms, shown,
                ROW_NUMBER() OVER (PARTITION BY location_id ORDER BY sku) AS ordinal
            FROM keyed
            WHERE wms_totals > 0
        ),
        ranked AS (
            SELECT location_id, sku, wms, shown, ordinal,
                ROW_NUMBER() OVER (PARTITION BY location_id, wms, shown ORDER BY ordinal) AS nth,
                COUNT(*) OVER (PARTITION BY location_id, wms, shown) AS keys
            FROM ordered
        )
        SELECT location_id, wms, shown, keys, ordinal, sku FROM ranked WHERE nth <= {int(sample)}
    """  # noqa: S608
    counts: dict[PairKey, int] = {}
    first: dict[PairKey, list[tuple[int, str]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_id, wms, shown, keys, ordinal, sku in cursor.fetchall():
            pair = (int(location_id), int(wms), None if shown is None else int(shown))
            counts[pair] = int(keys)
            first[pair].append((int(ordinal), sku))
    pairs = []
    for pair, keys in counts.items():
        ordinals, skus = zip(*sorted(first[pair]), strict=True)
        pairs.append(PairKeys(*pair, keys, ordinals, skus))
    return pairs


def _pairs(
    *,
    location_ids: Sequence[int],
    wms_ids: list[int],
    storefront_ids: list[int],
    version: tuple[tuple[int, int | None], ...],
    excluded_bins: Mapping[tuple[int, int], frozenset[str]],
    sample: int,
) -> tuple[list[PairKeys], bool]:
    """_pairs_sql (and whether it had to run), kept until a poll of the WMS or a storefront stores positions (or PAIRS_CACHE_SECONDS).

    At 100,000 keys the query takes ~250 ms while the pairs are a few hundred: every keystroke of
    the editor between two polls is then answered from them. The version must have been read
    before the positions: a poll committing in between then only makes the next request read
    them again, and never keeps older positions under the newer version.
    """
    locations = sorted(int(i) for i in location_ids)
    excluded = sorted(
        (key, sorted(bins)) for key, bins in excluded_bins.items() if key[0] in wms_ids and key[1] in locations
    )
    identity = (locations, wms_ids, storefront_ids, excluded, int(sample), version)
    key = "rule-preview-pairs:" + hashlib.sha256(repr(identity).encode()).hexdigest()
    pairs = cache.get(key)
    if pairs is None:
        pairs = _pairs_sql(
            location_ids=locations,
            wms_ids=wms_ids,
            storefront_ids=storefront_ids,
            excluded_bins=excluded_bins,
            sample=sample,
        )
        cache.set(key, pairs, PAIRS_CACHE_SECONDS)
        return pairs, True
    return pairs, False


def _expected_atp(wms: int, rules: Sequence[RuleValues]) -> int:
    """comparable.expected_atp under the governing rule, as key_comparables computes it from WMS truth."""
    return expected_atp(wms, governing_rule(wms, rules))


def _atp_before_after(
    sets: Mapping[int, tuple[tuple[RuleValues, ...], tuple[RuleValues, ...]]],
) -> Callable[[int, int], tuple[int, int]]:
    """(location_id, WMS comparable) → expected ATP before and after, computed once per rule set and value."""
    rule_set = {rules: n for n, rules in enumerate(set(sets.values()))}
    by_location = {location_id: rule_set[rules] for location_id, rules in sets.items()}
    known: dict[tuple[int, int], tuple[int, int]] = {}

    def atp(location_id: int, wms: int) -> tuple[int, int]:
        key = (by_location[location_id], wms)
        found = known.get(key)
        if found is None:
            before, after = sets[location_id]
            found = known[key] = (_expected_atp(wms, before), _expected_atp(wms, after))
        return found

    return atp


def pair_effects(
    *,
    pairs: Sequence[PairKeys],
    sets: Mapping[int, tuple[tuple[RuleValues, ...], tuple[RuleValues, ...]]],
    codes: Mapping[int, str],
    top: int,
) -> tuple[dict[int, Effect], list[KeyEffect]]:
    """Per-location totals and the `top` keys the change moves most, from the pairs (pure).

    Every key of a pair has the same effect, so totals are the pair's effect times its keys. The
    top keys are ordered by phantom change, then expected ATP change (both descending), then
    location and SKU (in the database's order); a pair's keys are in SKU order, so the top needs
    at most `top` keys of each pair, and no pair past the one that fills it, unless equal to it.
    """
    sums: dict[int, list[int]] = {}  # location_id → Effect's fields, in order
    movers: list[tuple[tuple[int, int], PairKeys, tuple[int, int, int, int]]] = []
    atp = _atp_before_after(sets)  # locations share rule sets, and pairs WMS values
    for pair in pairs:
        atp_before, atp_after = atp(pair.location_id, pair.wms)
        if pair.shown is None:
            phantom_before = phantom_after_ = 0
        else:
            phantom_before = max(0, pair.shown - pair.wms)
            phantom_after_ = phantom_after(shown=pair.shown, wms=pair.wms, atp_before=atp_before, atp_after=atp_after)
        n = pair.keys
        row = sums.setdefault(pair.location_id, [0] * 6)
        row[0] += n
        row[1] += n if atp_after != atp_before else 0
        row[2] += n * atp_before
        row[3] += n * atp_after
        row[4] += n * phantom_before
        row[5] += n * phantom_after_
        if atp_after != atp_before or phantom_after_ != phantom_before:
            figures = (atp_before, atp_after, phantom_before, phantom_after_)
            movers.append(((abs(phantom_after_ - phantom_before), abs(atp_after - atp_before)), pair, figures))
    totals = {location_id: Effect(*row) for location_id, row in sums.items()}
    if top <= 0:
        return totals, []
    movers.sort(key=lambda mover: mover[0], reverse=True)
    candidates: list[tuple[int, int, int, int, str, PairKeys, tuple[int, int, int, int]]] = []
    counted, last = 0, None
    for score, pair, figures in movers:
        if counted >= top and score != last:
            break
        candidates += [
            (-score[0], -score[1], pair.location_id, ordinal, sku, pair, figures)
            for ordinal, sku in zip(pair.ordinals[:top], pair.skus[:top], strict=True)
        ]
        counted, last = counted + pair.keys, score
    candidates.sort(key=lambda candidate: candidate[:4])
    return totals, [
        KeyEffect(
            location_code=codes.get(pair.location_id, "?"),
            sku=sku,
            wms=pair.wms,
            shown=pair.shown,
            atp_before=atp_before,
            atp_after=atp_after,
            phantom_before=None if pair.shown is None else phantom_before,
            phantom_after=None if pair.shown is None else phantom_after_,
        )
        for *_, sku, pair, (atp_before, atp_after, phantom_before, phantom_after_) in candidates[:top]
    ]


def rule_change_preview(
    *, rule: AllocationRule, values: RuleValues, now: dt.datetime | None = None, top: int = TOP_KEYS
) -> RulePreview:
    """The effect of giving `rule` these values now, over every location of its pool."""
    now = now or timezone.now()
    if not rule.is_active:
        return RulePreview(total=Effect(), locations=(), top=(), top_limit=top, rule_active=False)
    sets, codes = _rule_sets(rule=rule, values=values, at=now)
    if not sets:
        return RulePreview(total=Effect(), locations=(), top=(), top_limit=top)
    wms_ids, storefront_ids, version = _connectors_and_version()
    excluded_bins = reconciliation_selectors.wms_excluded_bin_map(connector_ids=wms_ids)
    pairs, _ = _pairs(
        location_ids=list(sets),
        wms_ids=wms_ids,
        storefront_ids=storefront_ids,
        version=version,
        excluded_bins=excluded_bins,
        sample=max(top, TOP_KEYS),
    )
    _editing_note(pool_id=rule.pool_id, location_ids=list(sets), sample=max(top, TOP_KEYS))
    totals, top_effects = pair_effects(pairs=pairs, sets=sets, codes=codes, top=top)
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
    return RulePreview(total=total, locations=locations, top=tuple(top_effects), top_limit=top)


# Pools whose rules someone previewed lately: after each poll that changed positions their pairs
# are read again in the worker (rule_previews_warm), so the person typing never waits for them.
EDITING_KEY = "rule-preview-editing"
EDITING_SECONDS = 15 * 60


def _editing_note(*, pool_id: int, location_ids: Sequence[int], sample: int) -> None:
    now = timezone.now().timestamp()
    editing = {pk: entry for pk, entry in (cache.get(EDITING_KEY) or {}).items() if entry[2] > now and pk != pool_id}
    editing[pool_id] = (tuple(sorted(location_ids)), sample, now + EDITING_SECONDS)
    cache.set(EDITING_KEY, editing, EDITING_SECONDS)


def rule_previews_warm() -> int:
    """Read the pairs of every pool previewed in the last EDITING_SECONDS that a poll has made stale
    (called after each poll that changed positions); returns how many pools were read again."""
    now = timezone.now().timestamp()
    editing = {pk: entry for pk, entry in (cache.get(EDITING_KEY) or {}).items() if entry[2] > now}
    if not editing:
        return 0
    wms_ids, storefront_ids, version = _connectors_and_version()
    excluded_bins = reconciliation_selectors.wms_excluded_bin_map(connector_ids=wms_ids)
    read = 0
    for location_ids, sample, _ in editing.values():
        _, missed = _pairs(
            location_ids=location_ids,
            wms_ids=wms_ids,
            storefront_ids=storefront_ids,
            version=version,
            excluded_bins=excluded_bins,
            sample=sample,
        )
        read += missed
    return read
