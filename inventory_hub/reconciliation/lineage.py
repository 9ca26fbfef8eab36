"""Lineage: which upstream state a downstream number reflects, and when each change first arrived (pure).

DESIGN.md §5, in the order it prescribes:

1. **Source timestamps.** When the downstream says where its number came from, use it. An
   ERPNext Stock Ledger Entry carries `posting_datetime` (when the movement happened: a business
   value carried over from the WMS, not a stamp of the ERP's clock) and `creation` (when the ERP
   recorded it, on the ERP's own clock). `source_reflection` turns one entry into (WMS change
   time, ERP reflection time) after taking the ERP's clock offset off `creation`.
2. **Value matching.** Otherwise: the latest upstream state, at or before the downstream
   observation, whose comparable quantity the downstream value equals, within a bounded
   look-back. No match → unexplained (`None`).

Clocks. Every system stamps with its own clock; the hub's `changed_at` is on the hub's clock
and never earlier than the change it records (the hub sees a change at the first poll after
it). So for each change `own stamp − changed_at = offset − poll delay ≤ offset`, and the largest
of these over many changes is the offset minus the smallest poll delay seen
(`clock_offset_estimate`): a one-sided error, at most that smallest delay (seconds when there
are hundreds of changes and the hub polls every few minutes). Stamps are then moved onto the
hub's clock by subtracting the offset (`on_hub_clock`).

Series are time-ordered `Reading`s: one system's comparable quantity from `at` on.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence

from inventory_hub.inventory.rules import RuleValues
from inventory_hub.reconciliation.comparable import expected_atp, governing_rule

SOURCE_TIMESTAMP = "source_timestamp"
VALUE_MATCH = "value_match"
SYNC = "sync"  # dated by the downstream's own sync stamp
UNCHANGED = "unchanged"  # the downstream already showed the number the change called for
OWN_ORDER = "own_order"  # the storefront's own order: it had the change before the WMS did
METHODS = (SOURCE_TIMESTAMP, VALUE_MATCH, SYNC, UNCHANGED, OWN_ORDER)

# How far back a downstream value may be explained by an upstream state that has since changed.
DEFAULT_LOOK_BACK = dt.timedelta(hours=6)


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    """One system's comparable quantity from `at` on (on the hub's clock).

    `alternatives` are other values the same state may legitimately show downstream: the WMS
    comparable counted with every bin, for a downstream whose boundary includes the excluded ones.
    `held_back` is a storefront's own safety stock when inferable (on hand − allocated − available).
    """

    at: dt.datetime
    value: int
    alternatives: tuple[int, ...] = ()
    held_back: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Reflection:
    """When the downstream first reflected one upstream change (None: not yet), and how we know."""

    changed_at: dt.datetime
    reflected_at: dt.datetime | None
    method: str
    upstream_index: int  # the change's index in the upstream series

    @property
    def lag(self) -> dt.timedelta | None:
        return None if self.reflected_at is None else self.reflected_at - self.changed_at


Accepts = Callable[[Reading, Reading], bool]  # (upstream state, downstream reading) → does it explain it?


def same_value(upstream: Reading, downstream: Reading) -> bool:
    """The downstream shows the upstream's comparable (or one of its legitimate alternatives)."""
    return downstream.value == upstream.value or downstream.value in upstream.alternatives


@dataclasses.dataclass(frozen=True, slots=True)
class RulesInForce:
    """The allocation rules of one location over time: `changes` are (from, rules in force from then on)."""

    changes: tuple[tuple[dt.datetime, tuple[RuleValues, ...]], ...] = ()

    def at(self, at: dt.datetime) -> tuple[RuleValues, ...]:
        """The rules in force at `at` (none before the first version took effect)."""
        index = bisect.bisect_right([start for start, _ in self.changes], at) - 1
        return self.changes[index][1] if index >= 0 else ()


@dataclasses.dataclass(frozen=True, slots=True)
class OwnOrder:
    """A storefront order line at the key: the storefront takes it off its own number when placed."""

    at: dt.datetime
    quantity: int


def atp_accepts(
    rules: Sequence[RuleValues] | RulesInForce,
    own_orders: Sequence[OwnOrder] = (),
    *,
    storefront_rule: bool = False,
) -> Accepts:
    """A storefront reading is explained by an upstream comparable through the expected ATP.

    Under the hub's governing rule in force at the upstream state, or under the storefront's own
    safety stock when it holds back a different one (rule drift is a known, separately reported
    difference, not a lost sync). A storefront also takes its own orders off its number the moment
    they are placed, while the upstream counts them only once its next sync has carried them: so
    the reading may show the expected ATP less the storefront's orders placed since the upstream
    state began (`own_orders`, in time order).

    `storefront_rule`: only what the storefront itself would compute: under its own safety stock
    when the reading says it (`held_back`), under the hub's rule only when it does not. Either rule
    may explain a number; only the storefront's own says whether its next sync would move it.
    """
    in_force = (
        rules
        if isinstance(rules, RulesInForce)
        else RulesInForce(((dt.datetime.min.replace(tzinfo=dt.UTC), tuple(rules)),))
    )
    order_times = [order.at for order in own_orders]
    ordered_total = list(itertools.accumulate((order.quantity for order in own_orders), initial=0))

    def unsynced(upstream: Reading, downstream: Reading) -> int:
        low = bisect.bisect_right(order_times, upstream.at)
        high = bisect.bisect_right(order_times, downstream.at)
        return ordered_total[high] - ordered_total[low] if high > low else 0

    def accepts(upstream: Reading, downstream: Reading) -> bool:
        rules_then = in_force.at(upstream.at)
        taken = unsynced(upstream, downstream)
        for value in (upstream.value, *upstream.alternatives):
            rule = governing_rule(value, rules_then)
            candidates = [rule]
            own = downstream.held_back
            if own is not None and own != rule.safety_stock:
                own_rule = dataclasses.replace(rule, safety_stock=own)
                candidates = [own_rule] if storefront_rule else [rule, own_rule]
            for candidate in candidates:
                if max(0, expected_atp(value, candidate) - taken) == downstream.value:
                    return True
        return False

    return accepts


def own_order_readings_drop(
    series: Sequence[Reading], own_orders: Sequence[OwnOrder], *, tolerance: dt.timedelta = dt.timedelta(seconds=2)
) -> list[Reading]:
    """The readings that are syncs: without those the storefront's own orders explain.

    A storefront takes an order off its number when it is placed; that new number reflects no
    upstream state, so as evidence of a sync it would only mislead value matching.
    """
    order_times = [order.at for order in own_orders]
    kept: list[Reading] = []
    previous: Reading | None = None
    for reading in series:
        if previous is not None:
            low = bisect.bisect_right(order_times, previous.at)
            high = bisect.bisect_right(order_times, reading.at + tolerance)
            placed = own_orders[low:high]
            explained = placed and reading.value == max(0, previous.value - sum(order.quantity for order in placed))
            if explained and abs(placed[-1].at - reading.at) <= tolerance:
                previous = reading
                continue
        kept.append(reading)
        previous = reading
    return kept


def clock_offset_estimate(
    pairs: Iterable[tuple[dt.datetime, dt.datetime]],
    after_pairs: Iterable[tuple[dt.datetime, dt.datetime]] = (),
) -> dt.timedelta | None:
    """A system's clock offset from (its own stamp, when the hub first saw the change) pairs.

    The hub never sees a change before it happens, so each pair bounds the offset from below;
    the largest bound is the estimate (see the module docstring). `after_pairs` are (stamp, start
    of the poll before the one that saw it): the change happened after that, so each bounds the
    offset from above. When zero lies within both bounds the clocks are taken to agree: the lower
    bound alone would put a synchronised clock the smallest poll delay ahead. None without pairs.
    """
    lower = max((stamp - seen for stamp, seen in pairs), default=None)
    if lower is None:
        return None
    upper = min((stamp - before for stamp, before in after_pairs), default=None)
    if upper is not None and lower <= dt.timedelta(0) <= upper:
        return dt.timedelta(0)
    return lower


def on_hub_clock(stamp: dt.datetime, offset: dt.timedelta | None) -> dt.datetime:
    """A system's own stamp moved onto the hub's clock."""
    return stamp if offset is None else stamp - offset


def source_reflection(
    *, posted_at: dt.datetime, created_at: dt.datetime, offset: dt.timedelta | None
) -> tuple[dt.datetime, dt.datetime]:
    """(WMS change time, ERP reflection time) of one ledger entry: posting time, and creation on the hub's clock.

    An entry is never recorded before its movement, so a clock estimate that would put it there
    is clamped to a lag of zero.
    """
    reflected = on_hub_clock(created_at, offset)
    return posted_at, max(reflected, posted_at)


def changes(series: Sequence[Reading]) -> list[int]:
    """Indexes of the readings that changed the comparable (the first reading is a starting state)."""
    return [i for i in range(1, len(series)) if series[i].value != series[i - 1].value]


def lineage_match(
    upstream: Sequence[Reading],
    downstream: Reading,
    *,
    look_back: dt.timedelta = DEFAULT_LOOK_BACK,
    accepts: Accepts = same_value,
) -> int | None:
    """The index of the latest upstream state, in force at or before the downstream reading, that explains it.

    A state counts while it was the upstream's at some moment of [downstream.at − look_back,
    downstream.at]: one replaced before the window is too old to explain anything. None: unexplained.
    """
    window_start = downstream.at - look_back
    for i in range(_at_or_before(upstream, downstream.at), -1, -1):
        if i + 1 < len(upstream) and upstream[i + 1].at < window_start:
            return None  # this state and every earlier one ended before the look-back window
        if accepts(upstream[i], downstream):
            return i
    return None


def lineages(
    upstream: Sequence[Reading],
    downstream: Sequence[Reading],
    *,
    look_back: dt.timedelta = DEFAULT_LOOK_BACK,
    accepts: Accepts = same_value,
) -> list[int | None]:
    """`lineage_match` of every downstream reading."""
    return [lineage_match(upstream, reading, look_back=look_back, accepts=accepts) for reading in downstream]


def own_entries_lineage(
    upstream: Sequence[Reading],
    downstream: Sequence[Reading],
    lineage: Sequence[int | None],
    own_entries: Sequence[tuple[dt.datetime, float]],
    *,
    look_back: dt.timedelta = DEFAULT_LOOK_BACK,
    tolerance: dt.timedelta = dt.timedelta(seconds=1),
) -> list[int | None]:
    """`lineage`, net of the downstream's own entries (an ERP's adjustment after an oversell).

    A reading its own entries since the previous reading explain from that reading is the
    adjustment, not a sync, even when its value happens to be an upstream state's: unexplained
    (`carried_lineage` keeps what it carried). An entry that follows a sync before the hub polls
    again hides the synced state instead: the reading is that state plus the entry, a value no
    upstream state has; taking its own entries off, latest first, finds the state the sync
    carried. `own_entries` are (when recorded, quantity), in time order. A match never goes back
    past the lineage already carried (an import is cumulative).
    """
    times = [at for at, _ in own_entries]
    result = list(lineage)
    carried: int | None = None
    for position, reading in enumerate(downstream):
        # The first reading's own entries are unknown (before it, the history says nothing).
        low = bisect.bisect_right(times, downstream[position - 1].at + tolerance) if position else len(times)
        high = max(low, bisect.bisect_right(times, reading.at + tolerance))
        adjusted = sum(quantity for _, quantity in own_entries[low:high])
        if high > low and reading.value - round(adjusted) == downstream[position - 1].value:
            result[position] = None
        elif result[position] is None:
            for first in range(high - 1, low - 1, -1):
                taken = sum(quantity for _, quantity in own_entries[first:high])
                synced = dataclasses.replace(reading, value=reading.value - round(taken))
                found = lineage_match(upstream, synced, look_back=look_back)
                if found is not None and (carried is None or found > carried):
                    result[position] = found
                    break
        if result[position] is not None:
            carried = max(result[position], carried or 0)
    return result


def first_reflections(
    upstream: Sequence[Reading], downstream: Sequence[Reading], lineage: Sequence[int | None]
) -> dict[int, dt.datetime | None]:
    """For each upstream change: when the first downstream reading whose lineage is it or later began.

    A downstream showing a later state has carried the earlier changes with it (several WMS
    changes before one sync are all reflected by that sync). Unreflected changes map to None.
    """
    pending = changes(upstream)
    reflected: dict[int, dt.datetime | None] = dict.fromkeys(pending)
    position = 0
    for reading, index in sorted(zip(downstream, lineage, strict=True), key=lambda pair: pair[0].at):
        if index is None:
            continue
        while position < len(pending) and pending[position] <= index:
            # The reading reflects a state from `upstream[index].at` on; it cannot precede the change.
            reflected[pending[position]] = max(reading.at, upstream[pending[position]].at)
            position += 1
    return reflected


def value_reflections(
    upstream: Sequence[Reading],
    downstream: Sequence[Reading],
    *,
    look_back: dt.timedelta = DEFAULT_LOOK_BACK,
    accepts: Accepts = same_value,
) -> list[Reflection]:
    """Each upstream change and when the downstream first reflected it, by value matching."""
    found = first_reflections(
        upstream, downstream, lineages(upstream, downstream, look_back=look_back, accepts=accepts)
    )
    return [
        Reflection(changed_at=upstream[i].at, reflected_at=at, method=VALUE_MATCH, upstream_index=i)
        for i, at in sorted(found.items())
    ]


def sources_preferred(
    reflections: Sequence[Reflection],
    sources: Iterable[tuple[dt.datetime, dt.datetime]],
    *,
    tolerance: dt.timedelta = dt.timedelta(seconds=1),
) -> list[Reflection]:
    """Where the downstream said which change it recorded and when, that wins over value matching.

    `sources` are (WMS change time, reflection time) pairs from `source_reflection`; a change is
    theirs when its time is within `tolerance` of the posting time (of several, the earliest
    reflection: the first time the downstream had it).
    """
    by_time = sorted(sources)
    result = []
    for reflection in reflections:
        matched = [
            reflected
            for posted, reflected in by_time
            if abs(posted - reflection.changed_at) <= tolerance and reflected >= reflection.changed_at - tolerance
        ]
        if matched:
            reflection = dataclasses.replace(
                reflection, reflected_at=max(min(matched), reflection.changed_at), method=SOURCE_TIMESTAMP
            )
        result.append(reflection)
    return result


def sync_instants(series: Sequence[Reading], own_orders: Sequence[OwnOrder]) -> list[dt.datetime]:
    """When a storefront synced one level: the stamps of its readings, less those its own orders explain.

    A storefront stamps the number when it changes; an order placed there changes it too, by the
    ordered quantity. A reading stamped at an order that shows something else had a sync between
    the previous reading and the order (the order's stamp overwrote the sync's before the hub
    polled): its stamp bounds that sync from above. A sync that changed nothing cannot be seen.
    """
    return sorted({reading.at for reading in own_order_readings_drop(series, own_orders)})


def sync_reflections(
    *,
    changes: Sequence[tuple[int, dt.datetime | None]],
    middle: Sequence[Reading],
    middle_lineage: Sequence[int | None],
    downstream: Sequence[Reading],
    syncs: Sequence[dt.datetime],
    accepts: Accepts,
    shows: Accepts | None = None,
    look_back: dt.timedelta = DEFAULT_LOOK_BACK,
) -> list[tuple[dt.datetime | None, str]]:
    """For each WMS change the middle system had reflected: the first downstream sync that carried it.

    `changes` are (index of the WMS state that includes the change, when the middle system — the
    ERP — reflected it). A sync at instant P carried the change when the middle's state at P
    descends from that WMS state or a later one and the downstream's number at P is what that
    state explains. This sees a sync that left the downstream's number unchanged (its own orders
    had already taken the units off), which value matching on changed numbers alone would date at
    a later change. Returns (when, SYNC) per change, (None, SYNC) while no sync has carried it, and
    (when the middle reflected it, UNCHANGED) for a change that left the downstream's number where
    it was (an ERP counting the bin the units moved into; a number clamped at zero): the number was
    already right, and no sync can date it.

    "Already right" is judged by `shows` (default `accepts`): what the downstream itself would
    compute from the middle's state, e.g. `atp_accepts(..., storefront_rule=True)`. A number the
    hub's rule happens to explain is not one the storefront's next sync would leave alone. A
    reading clamped at zero does not say the safety stock held back; the latest one that did is
    taken (a storefront's safety stock is a setting, not a quantity that moves with stock).
    """
    middle_times = [reading.at for reading in middle]
    downstream_times = [reading.at for reading in downstream]
    middle_lineage = carried_lineage(middle_lineage)
    unchanged_judge = accepts if shows is None else shows
    known = held_back_carried(downstream)
    found: list[tuple[dt.datetime | None, str]] = []
    for index, start in changes:
        carried = None
        if start is not None and already_shown(middle, middle_times, known, downstream_times, start, unchanged_judge):
            found.append((start, UNCHANGED))
            continue
        for at in syncs[bisect.bisect_left(syncs, start) :] if start is not None else ():
            if at - start > look_back:
                break
            state = bisect.bisect_right(middle_times, at) - 1
            shown = bisect.bisect_right(downstream_times, at) - 1
            if state < 0 or shown < 0:
                continue
            origin = middle_lineage[state]
            if origin is None or origin < index:
                continue
            if accepts(middle[state], dataclasses.replace(downstream[shown], at=at)):
                carried = at
                break
        found.append((carried, SYNC))
    return found


def held_back_carried(series: Sequence[Reading]) -> list[Reading]:
    """The readings, each clamped one (held back unknown) given the latest held back said before it."""
    latest: int | None = None
    result = []
    for reading in series:
        if reading.held_back is not None:
            latest = reading.held_back
        elif latest is not None:
            reading = dataclasses.replace(reading, held_back=latest)
        result.append(reading)
    return result


def carried_lineage(lineage: Sequence[int | None]) -> list[int | None]:
    """Each state's lineage, or the latest an earlier state had when its own value is unexplained.

    A middle system's import is cumulative: once it has carried a WMS state, every later state of
    it holds those changes, even one whose value no WMS state explains (the ERP adjusted itself,
    as after an oversell). Such a state still carries what came before it.
    """
    carried: list[int | None] = []
    latest: int | None = None
    for index in lineage:
        latest = index if index is not None else latest
        carried.append(latest)
    return carried


def already_shown(
    middle: Sequence[Reading],
    middle_times: Sequence[dt.datetime],
    downstream: Sequence[Reading],
    downstream_times: Sequence[dt.datetime],
    at: dt.datetime,
    accepts: Accepts,
) -> bool:
    """Does the downstream's number just before `at` already agree with the middle's state at `at`?"""
    state = bisect.bisect_right(middle_times, at) - 1
    shown = bisect.bisect_left(downstream_times, at) - 1
    if state < 0 or shown < 0:
        return False
    return accepts(middle[state], dataclasses.replace(downstream[shown], at=at))


def chained_lineage(middle_lineage: Sequence[int | None], downstream_lineage: Sequence[int | None]) -> list[int | None]:
    """Storefront ← ERP ← WMS: the WMS state each downstream reading reflects through the middle system."""
    return [
        None if index is None or index >= len(middle_lineage) else middle_lineage[index] for index in downstream_lineage
    ]


def _at_or_before(series: Sequence[Reading], at: dt.datetime) -> int:
    """Index of the last reading at or before `at` (−1 when none): binary search on time."""
    low, high = 0, len(series)
    while low < high:
        middle = (low + high) // 2
        if series[middle].at <= at:
            low = middle + 1
        else:
            high = middle
    return low - 1


@dataclasses.dataclass(frozen=True, slots=True)
class LagStats:
    """p50, p95 and max of a set of lags (seconds), and how many there were."""

    p50: float
    p95: float
    max: float
    count: int


def lag_stats(seconds: Iterable[float]) -> LagStats | None:
    """Median, the 95th percentile (nearest rank below, as the sandbox's truth computes it) and max."""
    values = sorted(seconds)
    if not values:
        return None
    middle = len(values) // 2
    p50 = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return LagStats(p50=p50, p95=p95, max=values[-1], count=len(values))
