"""Writes of tracing: oversells detected from storefront orders, their traces, and cascade loops."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from inventory_hub.connectors.models import Role
from inventory_hub.observations.models import InventoryEvent
from inventory_hub.tracing import selectors, trace
from inventory_hub.tracing.models import Oversell, TraceStep

# Compensating adjustments on one key closer together than this belong to one loop.
CASCADE_WINDOW = dt.timedelta(hours=2)
CASCADE_MIN_EVENTS = 3  # ERP adjustment → WMS backflush → ERP reconciliation
ERP_ADJUSTMENT_VOUCHERS = frozenset({"Stock Reconciliation"})


@dataclasses.dataclass(frozen=True, slots=True)
class DetectResult:
    """What one detection run looked at and recorded."""

    checked: int
    oversells: int
    by_root_cause: dict[str, int]


def _shown_at(readings: Sequence[selectors.SystemReading], at: dt.datetime) -> int | None:
    """The storefront's value just before `at`: its latest reading stamped before it."""
    times = [r.at for r in readings]
    index = bisect.bisect_left(times, at) - 1
    return readings[index].value if index >= 0 else None


def _value_at(readings: Sequence[selectors.SystemReading], at: dt.datetime) -> int | None:
    times = [r.at for r in readings]
    index = bisect.bisect_right(times, at) - 1
    return readings[index].value if index >= 0 else None


def _shown(facts: selectors.KeyFacts, *, at: dt.datetime, quantity_at: int) -> int | None:
    """What the storefront showed at the order: the latest reading before it.

    When the hub's next reading is the storefront's own update at the order instant (the order
    took its units off), that reading plus what was ordered then is the shown value, which the
    hub may never have seen directly (a pull and the order between two polls).
    """
    before = _shown_at(facts.storefront, at)
    after = next((r for r in facts.storefront if r.at >= at), None)
    if after is not None and abs((after.at - at).total_seconds()) < 1:
        if after.value > 0:
            return after.value + quantity_at
        return min(before, quantity_at) if before is not None else quantity_at
    return before


def oversells_detect(
    *,
    order_line_ids: Iterable[int] | None = None,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> DetectResult:
    """Check new storefront order lines against WMS truth at their instant; record each oversell with its trace.

    Truth at t: the latest WMS observation before t rolled forward by the WMS's on-hand events
    (and the storefront's own order allocations) up to t. Idempotent: one Oversell per order line,
    and lines that already have one are not checked again.
    """
    now = now or timezone.now()
    lines = list(selectors.order_line_unchecked_list(order_line_ids=order_line_ids, since=since, until=now))
    if not lines:
        return DetectResult(checked=0, oversells=0, by_root_cause={})
    facts = selectors.key_facts_map(keys={(line.location_id, line.sku) for line in lines}, until=now)
    created: list[tuple[Oversell, trace.Trace]] = []
    for line in lines:
        key_facts = facts.get((line.location_id, line.sku))
        if key_facts is None:
            continue
        t = line.order.placed_at
        timeline = trace.wms_timeline(
            observations=key_facts.observations,
            events=key_facts.events,
            orders=[allocation for _, allocation in key_facts.orders],
            until=t,
            default_reserve=key_facts.default_reserve,
        )
        at_t = sum(a.quantity for _, a in key_facts.orders if abs((a.at - t).total_seconds()) < 1)
        shown = _shown(key_facts, at=t, quantity_at=at_t)
        if shown is None:
            continue
        result = trace.oversell_trace(
            order=trace.OrderFacts(at=t, quantity=line.quantity, channel=line.order.channel),
            shown=shown,
            timeline=timeline,
            lineage=key_facts.lineage,
            erp_syncs=sorted({r.at for r in key_facts.erp}),
            storefront_syncs=sorted({r.at for r in key_facts.storefront}),
            erp_comparable=_value_at(key_facts.erp, t),
            erp_boundary_counts_excluded=trace.erp_counts_excluded(
                key_facts.observations, [(r.at, r.value) for r in key_facts.erp]
            ),
            wms_states=[o.at for o in key_facts.observations],
        )
        if not result.oversold:
            continue
        created.append(
            (
                Oversell(
                    order_line=line,
                    location_id=line.location_id,
                    sku=line.sku,
                    ordered_at=t,
                    quantity=line.quantity,
                    shown=result.shown,
                    truth=result.truth,
                    shortfall=result.shortfall,
                    root_cause=result.root_cause,
                    originating_event_id=result.origin.event_id if result.origin else None,
                    explanation=result.explanation,
                    detected_at=now,
                ),
                result,
            )
        )
    by_cause: dict[str, int] = defaultdict(int)
    with transaction.atomic():
        for oversell, result in created:
            # A concurrent run may have recorded it first: the one-to-one keeps one.
            if Oversell.objects.filter(order_line_id=oversell.order_line_id).exists():
                continue
            oversell.save()
            TraceStep.objects.bulk_create(
                TraceStep(
                    oversell=oversell,
                    position=position,
                    kind=step.kind,
                    system=step.system,
                    hop=step.hop,
                    occurred_at=step.occurred_at,
                    lag_seconds=step.lag_seconds,
                    quantity=step.quantity,
                    event_id=step.event_id,
                    detail=step.detail[:1000],
                )
                for position, step in enumerate(result.steps, start=1)
            )
            by_cause[oversell.root_cause] += 1
    return DetectResult(
        checked=len(lines), oversells=sum(by_cause.values()), by_root_cause=dict(sorted(by_cause.items()))
    )


@dataclasses.dataclass(frozen=True, slots=True)
class CascadeEvent:
    """One compensating adjustment: an ERP reconciliation of its own or a WMS adjustment."""

    event_id: int
    system: str
    at: dt.datetime
    delta: int
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class CascadeLoop:
    """Compensating adjustments on one (location, SKU) across systems, each within the window of the last."""

    location_id: int
    sku: str
    events: tuple[CascadeEvent, ...]


def cascade_loops_find(
    adjustments: Sequence[tuple[int, str, CascadeEvent]],
    *,
    window: dt.timedelta = CASCADE_WINDOW,
    min_events: int = CASCADE_MIN_EVENTS,
) -> list[CascadeLoop]:
    """Group (location, SKU, adjustment) into loops: runs that alternate systems within the window (pure)."""
    by_key: dict[tuple[int, str], list[CascadeEvent]] = defaultdict(list)
    for location_id, sku, event in adjustments:
        by_key[(location_id, sku)].append(event)
    loops = []
    for (location_id, sku), events in sorted(by_key.items()):
        runs: list[list[CascadeEvent]] = []
        for event in sorted(events, key=lambda e: (e.at, e.event_id)):
            if runs and event.at - runs[-1][-1].at <= window:
                runs[-1].append(event)
            else:
                runs.append([event])
        loops += [
            CascadeLoop(location_id, sku, tuple(run))
            for run in runs
            if len(run) >= min_events and len({e.system for e in run}) > 1
        ]
    return loops


def cascade_loops_detect(
    *, since: dt.datetime | None = None, now: dt.datetime | None = None, window: dt.timedelta = CASCADE_WINDOW
) -> list[CascadeLoop]:
    """Find cascade loops since `since` and attach their events to the oversells they follow as `cascade` steps.

    An ERP adjustment is an entry the ERP made of its own (a Stock Reconciliation whose posting
    time is no WMS event's time on the key: nothing carried over); a WMS adjustment is an on-hand
    adjustment whose reason names it compensating (backflush, correction). Idempotent: a step is
    added once per (oversell, event).
    """
    now = now or timezone.now()
    events = InventoryEvent.objects.filter(occurred_at__lte=now, kind="adjustment").select_related("connector")
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    rows = list(events.order_by("occurred_at", "pk"))
    # A WMS event carried to the ERP keeps its time as the entry's posting time; the ERP's own do not.
    carried = set(
        InventoryEvent.objects.filter(
            connector__role=Role.WMS,
            occurred_at__in=[e.occurred_at for e in rows if e.connector.role == Role.ERP],
        ).values_list("location_id", "sku", "occurred_at")
    )
    adjustments: list[tuple[int, str, CascadeEvent]] = []
    for event in rows:
        raw = event.raw if isinstance(event.raw, dict) else {}
        key = (event.location_id, event.sku)
        if event.connector.role == Role.ERP:
            if raw.get("voucher_type") not in ERP_ADJUSTMENT_VOUCHERS or (*key, event.occurred_at) in carried:
                continue
            adjustments.append(
                (*key, CascadeEvent(event.pk, "erp", event.occurred_at, event.delta, "ERP stock reconciliation"))
            )
        elif event.connector.role == Role.WMS:
            reason = str(raw.get("reason") or "")
            if not any(word in reason.lower() for word in ("backflush", "correction", "erp")):
                continue
            adjustments.append((*key, CascadeEvent(event.pk, "wms", event.occurred_at, event.delta, reason)))
    loops = cascade_loops_find(adjustments, window=window)
    _cascade_steps_attach(loops, window=window)
    return loops


def _cascade_steps_attach(loops: Sequence[CascadeLoop], *, window: dt.timedelta) -> None:
    """Each loop's events become `cascade` steps of the latest oversell before the loop on its key."""
    with transaction.atomic():
        for loop in loops:
            first = loop.events[0].at
            oversell = (
                Oversell.objects.filter(
                    location_id=loop.location_id, sku=loop.sku, ordered_at__lte=first, ordered_at__gte=first - window
                )
                .order_by("-ordered_at")
                .first()
            )
            if oversell is None:
                continue
            steps = list(oversell.steps.all())
            have = {s.event_id for s in steps if s.kind == TraceStep.Kind.CASCADE}
            position = max((s.position for s in steps), default=0)
            new = []
            for event in loop.events:
                if event.event_id in have:
                    continue
                position += 1
                new.append(
                    TraceStep(
                        oversell=oversell,
                        position=position,
                        kind=TraceStep.Kind.CASCADE,
                        system=event.system,
                        occurred_at=event.at,
                        quantity=event.delta,
                        event_id=event.event_id,
                        detail=event.detail,
                    )
                )
            TraceStep.objects.bulk_create(new)
