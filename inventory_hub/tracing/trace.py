"""Tracing an oversell back to its originating count event (DESIGN.md §5): pure, no database.

In: what the WMS said about one (location, SKU) over time (observations, its on-hand events and
the storefront orders placed there), the order, what the storefront showed, and lineage facts
(when the ERP and the storefront first reflected each WMS change). Out: the trace.

The WMS history lists on-hand changes only. Allocations show up only as `allocated` rising
between two observations: the hub's own storefront orders explain part of that rise (each is
allocated at once when placed); the rest is inferred as one allocation to another channel at the
later observation's WMS timestamp.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections.abc import Sequence

ALLOCATION = "channel_allocation"
PICK = "pick"

SYNC_WINDOW_WMS_ERP = "sync_window_wms_erp"
SYNC_WINDOW_ERP_STOREFRONT = "sync_window_erp_storefront"
CHANNEL_ALLOCATION = "channel_allocation"
BOUNDARY_MISMATCH = "boundary_mismatch"
RULE_DIVERGENCE = "rule_divergence"
STOREFRONT_OVERSOLD = "storefront_oversold"

KIND_WORDS = {
    "receipt": "receipt",
    "cycle_count": "cycle count",
    "adjustment": "adjustment",
    "channel_allocation": "allocation",
    "pick": "pick",
    "transfer": "transfer",
}


@dataclasses.dataclass(frozen=True, slots=True)
class WmsObservation:
    """The WMS location total as the hub saw it: `at` is the WMS's own stamp (else when the hub saw it)."""

    at: dt.datetime
    on_hand: int
    excluded_on_hand: int  # on hand in the bins the WMS boundary excludes (quarantine, damaged)
    allocated: int
    available: int  # what the WMS itself promises (after its own reserve)


@dataclasses.dataclass(frozen=True, slots=True)
class WmsEvent:
    """One on-hand change from the WMS's history."""

    at: dt.datetime
    kind: str
    delta: int
    excluded_bin: bool = False
    quantity_after: int | None = None  # location on hand after it, when the WMS says
    event_id: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OrderAllocation:
    """A storefront order line at this (location, SKU): the WMS allocates it when it is placed."""

    at: dt.datetime
    quantity: int
    channel: str


@dataclasses.dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One change of WMS available: an on-hand event, or an allocation (seen or inferred)."""

    at: dt.datetime
    kind: str
    delta: int  # on hand for on-hand events, allocated for allocations
    available_before: int
    available_after: int
    event_id: int | None = None
    channel: str = ""  # for allocations: "" = another channel than the storefront's own orders
    inferred: bool = False

    @property
    def is_allocation(self) -> bool:
        return self.kind == ALLOCATION


@dataclasses.dataclass(frozen=True, slots=True)
class Timeline:
    """The WMS available over time up to `until`, and its state just before `until`."""

    entries: tuple[TimelineEntry, ...]
    available: int | None  # WMS available just before `until`; None when nothing was observed by then
    comparable: int | None  # on hand in the boundary − allocated (no reserve, not clamped)
    excluded_on_hand: int


@dataclasses.dataclass(frozen=True, slots=True)
class HopFacts:
    """When the ERP and the storefront first reflected one WMS change (None: not yet)."""

    wms_changed_at: dt.datetime
    erp_at: dt.datetime | None
    storefront_at: dt.datetime | None
    # False: the storefront hop was never sampled (a movement in the hub's first WMS state, dated by
    # the ERP's ledger alone): the storefront had it at its first sync after the ERP did.
    storefront_dated: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class OrderFacts:
    """The order line being traced."""

    at: dt.datetime
    quantity: int
    channel: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One step of the trace (mirrors TraceStep)."""

    kind: str
    system: str = ""
    hop: str = ""
    occurred_at: dt.datetime | None = None
    lag_seconds: float | None = None
    quantity: int | None = None
    event_id: int | None = None
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Trace:
    """The result: no oversell (`oversold` False), or the chain that explains one."""

    oversold: bool
    shown: int
    truth: int
    shortfall: int
    root_cause: str = ""
    origin: TimelineEntry | None = None
    steps: tuple[Step, ...] = ()
    explanation: str = ""


@dataclasses.dataclass
class _State:
    on_hand: int
    excluded: int
    allocated: int
    reserve: int

    @property
    def comparable(self) -> int:
        return self.on_hand - self.excluded - self.allocated

    @property
    def available(self) -> int:
        return max(0, self.comparable - self.reserve)


def _anchor(observation: WmsObservation, reserve: int) -> _State:
    comparable = observation.on_hand - observation.excluded_on_hand - observation.allocated
    if observation.available > 0:
        reserve = comparable - observation.available  # the WMS's own reserve, when inferable
    return _State(observation.on_hand, observation.excluded_on_hand, observation.allocated, reserve)


def _reserve_guess(observations: Sequence[WmsObservation], until: dt.datetime, default: int = 0) -> int:
    """The WMS's own reserve (held back from every channel), inferred where available > 0.

    A product whose stock sits at or below its reserve reports available 0, which says nothing
    about the reserve; the nearest observation that does say it (before `until`, else after) is
    used, because the reserve is a setting that rarely changes.
    """
    telling = [o for o in observations if o.available > 0]
    before = [o for o in telling if o.at < until]
    source = max(before, key=lambda o: o.at) if before else min(telling, key=lambda o: o.at, default=None)
    if source is None:
        return default  # none ever said: the reserve the WMS holds on most products there
    return source.on_hand - source.excluded_on_hand - source.allocated - source.available


def _entries_in_first_observation(state: _State, stamped: Sequence[WmsEvent | OrderAllocation]) -> list[TimelineEntry]:
    """On-hand events stamped at the first observation's own instant: it shows them done.

    Their entries are rebuilt by taking each delta back off, latest first, so an event the hub
    first saw already applied can still be an originating event.
    """
    events = [change for change in stamped if isinstance(change, WmsEvent)]
    rebuilt = []
    probe = dataclasses.replace(state)
    for event in reversed(events):
        after = probe.available
        probe.on_hand -= event.delta
        if event.excluded_bin:
            probe.excluded -= event.delta
        rebuilt.append(
            TimelineEntry(event.at, event.kind, event.delta, probe.available, after, event_id=event.event_id)
        )
    return rebuilt[::-1]


def _take_back(state: _State, change: WmsEvent | OrderAllocation) -> TimelineEntry:
    """Undo one change on `state` (in place): its entry, with the available before and after it."""
    after = state.available
    if isinstance(change, OrderAllocation):
        state.allocated -= change.quantity
        return TimelineEntry(change.at, ALLOCATION, change.quantity, state.available, after, channel=change.channel)
    state.on_hand -= change.delta
    if change.excluded_bin:
        state.excluded -= change.delta
    if change.kind == PICK and change.delta < 0:
        state.allocated -= change.delta  # a pick shipped what was allocated: it was still allocated before
    return TimelineEntry(change.at, change.kind, change.delta, state.available, after, event_id=change.event_id)


def _timeline_before_first_observation(
    observations: Sequence[WmsObservation],
    changes: Sequence[tuple[dt.datetime, int, WmsEvent | OrderAllocation]],
    *,
    until: dt.datetime,
    default_reserve: int,
) -> Timeline:
    """The timeline of an order the WMS's first observation on the key already shows (nothing read before it).

    Orders placed before the hub's first WMS poll are read with the storefront's history. When the
    first observation is stamped at the order's own instant (the stamps are whole seconds, and the
    order's allocation was the key's last change before the poll), it is the state just after the
    order: taking back the changes stamped at `until` gives the truth before it, and taking back the
    earlier ones, latest first, rebuilds their entries so one can still be the originating event.
    A first observation stamped later is not used: allocations to other channels between the order
    and it are in no history and could not be taken back.
    """
    closing = [o for o in observations if o.at == until]
    if not closing:
        return Timeline(entries=(), available=None, comparable=None, excluded_on_hand=0)
    state = _anchor(closing[-1], _reserve_guess(observations, until, default_reserve))
    for at, _, change in reversed(changes):
        if at == until:
            _take_back(state, change)
    truth = dataclasses.replace(state)
    # Latest first, each rebuilt from the state after it; then listed in time order.
    rebuilt = [_take_back(state, change) for at, _, change in reversed(changes) if at < until]
    return Timeline(
        entries=tuple(reversed(rebuilt)),
        available=truth.available,
        comparable=truth.comparable,
        excluded_on_hand=truth.excluded,
    )


def wms_timeline(
    *,
    observations: Sequence[WmsObservation],
    events: Sequence[WmsEvent],
    orders: Sequence[OrderAllocation] = (),
    until: dt.datetime,
    default_reserve: int = 0,
) -> Timeline:
    """WMS available over time from the observations, rolled forward by events strictly before `until`.

    Between two observations the on-hand events and the storefront's own order allocations are
    applied in time order; what is left of the rise of `allocated` (plus what picks released) is
    one inferred allocation to another channel at the later observation's stamp. Each observation
    then re-anchors the state, so an unexplained difference never carries over. With no observation
    before `until`, see `_timeline_before_first_observation`.
    """
    seen = sorted((o for o in observations if o.at < until), key=lambda o: o.at)
    # A WMS lists each event once; one seen twice (two polls, two connectors' pages) is applied once.
    unique = list({(e.event_id, e.at, e.kind, e.delta): e for e in events}.values())
    changes: list[tuple[dt.datetime, int, WmsEvent | OrderAllocation]] = [(e.at, 0, e) for e in unique]
    changes += [(o.at, 1, o) for o in orders]
    # Events at one instant are applied in the order the WMS recorded them (its ids grow).
    changes.sort(key=lambda item: (item[0], item[1], getattr(item[2], "event_id", None) or 0))
    if not seen:
        return _timeline_before_first_observation(observations, changes, until=until, default_reserve=default_reserve)
    times = [item[0] for item in changes]
    entries: list[TimelineEntry] = []
    state = _anchor(seen[0], _reserve_guess(observations, until, default_reserve))
    entries += _entries_in_first_observation(state, [c for at, _, c in changes if at == seen[0].at])
    boundaries = [*(o.at for o in seen[1:]), until]
    start = seen[0].at
    for index, end in enumerate(boundaries):
        last = end == until
        low = bisect.bisect_right(times, start)
        high = bisect.bisect_left(times, end) if last else bisect.bisect_right(times, end)
        released = ordered = 0
        for at, _, change in changes[low:high]:
            before = state.available
            if isinstance(change, OrderAllocation):
                state.allocated += change.quantity
                ordered += change.quantity
                entries.append(
                    TimelineEntry(at, ALLOCATION, change.quantity, before, state.available, channel=change.channel)
                )
                continue
            state.on_hand = change.quantity_after if change.quantity_after is not None else state.on_hand + change.delta
            if change.excluded_bin:
                state.excluded += change.delta
            if change.kind == PICK and change.delta < 0:
                freed = min(-change.delta, state.allocated)
                state.allocated -= freed
                released += freed
            entries.append(
                TimelineEntry(at, change.kind, change.delta, before, state.available, event_id=change.event_id)
            )
        if last:
            break
        observation = seen[index + 1]
        rest = observation.allocated - state.allocated
        if rest > 0:
            before = state.available
            state.allocated += rest
            entries.append(TimelineEntry(observation.at, ALLOCATION, rest, before, state.available, inferred=True))
        state = _anchor(observation, state.reserve)
        start = end
    # An observation stamped at `until` itself (the order's own allocation was its last change)
    # still tells what else was allocated before it: the rise beyond the orders placed at `until`.
    closing = [o for o in observations if o.at == until]
    if closing:
        at_until = sum(o.quantity for o in orders if o.at == until)
        rest = closing[-1].allocated - at_until - state.allocated
        if rest > 0:
            before = state.available
            state.allocated += rest
            at = until - dt.timedelta(microseconds=1)  # at or before the order; stamps are whole seconds
            entries.append(TimelineEntry(at, ALLOCATION, rest, before, state.available, inferred=True))
    return Timeline(
        entries=tuple(entries),
        available=state.available,
        comparable=state.comparable,
        excluded_on_hand=state.excluded,
    )


def originating_event(entries: Sequence[TimelineEntry], *, quantity: int, before: dt.datetime) -> TimelineEntry | None:
    """The last change before `before` that took WMS available from ≥ quantity to < quantity."""
    for entry in reversed(entries):
        if entry.at < before and entry.available_before >= quantity > entry.available_after:
            return entry
    return None


# Hub-side stamps of one WMS change differ by under a second (whole-second poll stamps, ERP posting times).
SAME_CHANGE = dt.timedelta(seconds=1)


def hop_facts_for(
    lineage: Sequence[HopFacts], at: dt.datetime, *, wms_states: Sequence[dt.datetime] = ()
) -> HopFacts | None:
    """The lineage facts of the first WMS change stamped at or after `at` (the one that carried it).

    `wms_states` are the stamps of the WMS states the hub read: the first one at or after `at`
    includes the change, so facts stamped later belong to another change. That happens when the
    change is in the first state read (no change before it to sample) or the hub sampled no
    downstream facts for it; borrowing the later change's (often the storefront's own order,
    "seen" at once) would call the change seen downstream.
    """
    times = [facts.wms_changed_at for facts in lineage]
    index = bisect.bisect_left(times, at)
    if index >= len(lineage):
        return None
    states = sorted(wms_states)
    state = bisect.bisect_left(states, at)
    if state < len(states) and lineage[index].wms_changed_at - states[state] >= SAME_CHANGE:
        return None
    return lineage[index]


def erp_counts_excluded(observations: Sequence[WmsObservation], erp: Sequence[tuple[dt.datetime, int]]) -> bool | None:
    """Does the ERP's boundary count the bins the WMS excludes? None while its readings cannot tell.

    Each ERP reading (stamp, on hand − allocated) is set against the WMS state of its stamp: it
    votes for the boundary whose quantity it equals when only one does. The boundary is a setting,
    so the majority over the key's history decides; one reading judged against the WMS at the
    order would take an ERP that had not yet synced a count for the other boundary.
    """
    states = sorted(observations, key=lambda o: o.at)
    times = [o.at for o in states]
    counts = leaves_out = 0
    for at, value in erp:
        index = bisect.bisect_right(times, at) - 1
        if index < 0 or states[index].excluded_on_hand <= 0:
            continue
        state = states[index]
        sellable = state.on_hand - state.excluded_on_hand - state.allocated
        counts += value == sellable + state.excluded_on_hand
        leaves_out += value == sellable
    return None if counts == leaves_out else counts > leaves_out


def _first_pull(
    since: dt.datetime, syncs: Sequence[dt.datetime], entries: Sequence[TimelineEntry], *, until: dt.datetime
) -> dt.datetime | None:
    """The storefront's first stamp after `since` and before `until` that none of its own orders explains."""
    own = [e.at for e in entries if e.is_allocation and e.channel and not e.inferred]
    for at in sorted(syncs):
        if since < at < until and not any(abs(at - placed) < SAME_CHANGE for placed in own):
            return at
    return None


def _clock(at: dt.datetime) -> str:
    return at.strftime("%H:%M")


def _minutes(delta: dt.timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _describe(entry: TimelineEntry) -> str:
    if entry.is_allocation:
        whom = f"to the {entry.channel} channel" if entry.channel else "to another channel"
        return f"allocation of {entry.delta} {whom} at {_clock(entry.at)}"
    return f"{KIND_WORDS.get(entry.kind, entry.kind)} of {_clock(entry.at)} ({entry.delta:+d})"


def _hop_steps(
    *,
    hop: str,
    system: str,
    start: dt.datetime,
    reflected: dt.datetime | None,
    syncs: Sequence[dt.datetime],
    until: dt.datetime,
) -> list[Step]:
    """The syncs of one hop after `start` and before `until`: the one that carried the change, or the misses."""
    steps = []
    carried = reflected is not None and reflected <= until
    for at in sorted(s for s in syncs if start < s < until):
        if carried and reflected is not None and at >= reflected:
            break
        steps.append(
            Step(kind="missed_sync", system=system, hop=hop, occurred_at=at, detail=f"{system} synced without it")
        )
    if carried and reflected is not None:
        lag = max(0.0, (reflected - start).total_seconds())
        steps.append(
            Step(
                kind="sync",
                system=system,
                hop=hop,
                occurred_at=reflected,
                lag_seconds=lag,
                detail=f"{system} carried it",
            )
        )
    elif not steps:
        steps.append(Step(kind="missed_sync", system=system, hop=hop, detail=f"no {system} sync before the order"))
    return steps


def oversell_trace(
    *,
    order: OrderFacts,
    shown: int,
    timeline: Timeline,
    lineage: Sequence[HopFacts] = (),
    erp_syncs: Sequence[dt.datetime] = (),
    storefront_syncs: Sequence[dt.datetime] = (),
    erp_comparable: int | None = None,
    erp_boundary_counts_excluded: bool | None = None,
    wms_states: Sequence[dt.datetime] = (),
) -> Trace:
    """The trace of one order line (DESIGN.md §5): no oversell when WMS available ≥ the quantity.

    Root cause, in order: the storefront showed less than it sold → `storefront_oversold`; the
    storefront had not reflected the originating event → `channel_allocation` (an allocation to
    another channel), `sync_window_erp_storefront` (the ERP had it) or `sync_window_wms_erp`;
    otherwise the storefront counts units the WMS boundary excludes → `boundary_mismatch`;
    else `rule_divergence`.
    """
    q, t = order.quantity, order.at
    truth = timeline.available if timeline.available is not None else 0
    if timeline.available is None or truth >= q:
        return Trace(oversold=False, shown=shown, truth=truth, shortfall=0)
    origin = originating_event(timeline.entries, quantity=q, before=t)
    facts = hop_facts_for(lineage, origin.at, wms_states=wms_states) if origin is not None else None
    erp_at = facts.erp_at if facts and facts.erp_at and facts.erp_at <= t else None
    storefront_at = facts.storefront_at if facts and facts.storefront_at and facts.storefront_at <= t else None
    if facts is not None and not facts.storefront_dated and erp_at is not None:
        storefront_at = _first_pull(erp_at, storefront_syncs, timeline.entries, until=t)
    if origin is not None and origin.is_allocation and origin.channel and not origin.inferred:
        storefront_at = origin.at  # the storefront's own order: it took the units off when it was placed
    excluded = timeline.excluded_on_hand
    if erp_boundary_counts_excluded is not None:
        counts_excluded = excluded > 0 and erp_boundary_counts_excluded
    else:
        counts_excluded = excluded > 0 and (
            erp_comparable is None or timeline.comparable is None or erp_comparable >= timeline.comparable + excluded
        )
    if shown < q:
        cause = STOREFRONT_OVERSOLD
        why = f"the storefront showed {shown} but accepted an order for {q} at {_clock(t)}"
    elif origin is not None and storefront_at is None:
        if origin.is_allocation and origin.channel != order.channel:
            cause = CHANNEL_ALLOCATION
            why = f"the storefront still showed {shown} after the {_describe(origin)} when the order arrived at {_clock(t)}"
        elif erp_at is not None:
            cause = SYNC_WINDOW_ERP_STOREFRONT
            why = (
                f"the ERP had the {_describe(origin)} by {_clock(erp_at)}, but the storefront's pull had not carried it "
                f"when the order arrived at {_clock(t)}"
            )
        else:
            cause = SYNC_WINDOW_WMS_ERP
            why = (
                f"the ERP's sync window had not carried the {_describe(origin)} when the order arrived at "
                f"{_clock(t)}, {_minutes(t - origin.at)} later"
            )
    elif counts_excluded:
        cause = BOUNDARY_MISMATCH
        why = f"the storefront counts {excluded} units in bins the WMS excludes (quarantine, damaged)"
    else:
        cause = RULE_DIVERGENCE
        why = f"every system had the latest count, yet the storefront showed {shown} where the WMS had {truth}"
    steps: list[Step] = []
    if origin is not None:
        steps.append(
            Step(
                kind="count_event",
                system="wms",
                occurred_at=origin.at,
                quantity=origin.delta,
                event_id=origin.event_id,
                detail=f"{origin.kind}{' (inferred)' if origin.inferred else ''}: "
                f"WMS available {origin.available_before} → {origin.available_after}"
                + (f", channel {origin.channel}" if origin.channel else ""),
            )
        )
        steps += _hop_steps(hop="wms_erp", system="erp", start=origin.at, reflected=erp_at, syncs=erp_syncs, until=t)
        steps += _hop_steps(
            hop="erp_storefront",
            system="storefront",
            start=erp_at or origin.at,
            reflected=storefront_at if erp_at is not None else None,
            syncs=storefront_syncs,
            until=t,
        )
    steps.append(Step(kind="shown", system="storefront", occurred_at=t, quantity=shown, detail="storefront available"))
    steps.append(Step(kind="order", system="storefront", occurred_at=t, quantity=q, detail=f"order for {q}"))
    steps.append(
        Step(kind="shortfall", system="wms", occurred_at=t, quantity=q - truth, detail=f"WMS available was {truth}")
    )
    return Trace(
        oversold=True,
        shown=shown,
        truth=truth,
        shortfall=q - truth,
        root_cause=cause,
        origin=origin,
        steps=tuple(steps),
        explanation=why[0].upper() + why[1:] + ".",
    )
