"""Oversell traces and the discrepancy timeline made readable: plain words, spans, figures (pure).

No ORM here: the selectors hand over plain facts, these functions turn them into the sentence a
fulfillment manager reads, the span rows of the trace waterfall, and the timeline's chart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from inventory_hub.dashboard import charts

# Root-cause classes (tracing.models.RootCause); plain strings so this module stays ORM-free.
SYNC_WINDOW_WMS_ERP = "sync_window_wms_erp"
SYNC_WINDOW_ERP_STOREFRONT = "sync_window_erp_storefront"
CHANNEL_ALLOCATION = "channel_allocation"
BOUNDARY_MISMATCH = "boundary_mismatch"
RULE_DIVERGENCE = "rule_divergence"
STOREFRONT_OVERSOLD = "storefront_oversold"

EVENT_WORDS = {
    "receipt": "receipt",
    "cycle_count": "cycle count",
    "adjustment": "adjustment",
    "channel_allocation": "allocation",
    "pick": "pick",
    "transfer": "transfer",
    "sync_import": "sync import",
    "publish": "publish",
}
SYSTEM_WORDS = {"wms": "WMS", "erp": "ERP", "storefront": "Storefront"}
HOP_WORDS = {"wms_erp": "WMS → ERP", "erp_storefront": "ERP → storefront", "wms_storefront": "WMS → storefront"}


# --- plain words -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """The originating count event as the trace recorded it."""

    kind: str  # an EventKind value, e.g. "cycle_count", "channel_allocation"
    at: dt.datetime
    delta: int | None = None
    channel: str = ""
    inferred: bool = False  # an allocation the hub inferred from a rise of `allocated`


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """How long a hop normally takes here: measured (the average lag at the location) or configured (the poll interval)."""

    seconds: float
    measured: bool


@dataclasses.dataclass(frozen=True, slots=True)
class TraceFacts:
    """What the root-cause sentence is built from."""

    root_cause: str
    ordered_at: dt.datetime
    quantity: int
    shown: int
    truth: int
    time_zone: str
    origin: Origin | None = None
    erp_carried_at: dt.datetime | None = None  # when the ERP reflected the origin (before the order)
    erp_missed: int = 0  # ERP syncs between the origin and the order that did not carry it
    storefront_missed: int = 0
    erp_window: Window | None = None  # the WMS → ERP hop's window here
    storefront_window: Window | None = None  # the ERP → storefront hop's window here


def window_words(seconds: float | None) -> str:
    """A poll interval as an adjective: 900 → "15-minute", 3600 → "1-hour", 90 → "90-second"."""
    if not seconds:
        return ""
    seconds = round(seconds)
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    if seconds % 60 == 0:
        return f"{seconds // 60}-minute"
    return f"{seconds}-second"


def clock(at: dt.datetime, time_zone: str, *, day_of: dt.datetime | None = None, zone: bool = False) -> str:
    """A time in the location's zone, "10:02"; with the date when it is not `day_of`'s local day."""
    tz = zoneinfo.ZoneInfo(time_zone)
    local = at.astimezone(tz)
    text = local.strftime("%H:%M")
    if day_of is not None and day_of.astimezone(tz).date() != local.date():
        text = f"{local.strftime('%b')} {local.day}, {text}"
    if zone:
        text += f" {local.tzname()}"
    return text


def _minutes(delta: dt.timedelta | float) -> str:
    seconds = max(0, round(delta.total_seconds() if isinstance(delta, dt.timedelta) else delta))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} hours"


def _units(n: int) -> str:
    return f"{n} unit{'s' if n != 1 else ''}"


def _syncs(n: int, system: str) -> str:
    return f"{n} {system} sync{'s' if n != 1 else ''}"


def origin_words(origin: Origin | None, time_zone: str, *, day_of: dt.datetime) -> str:
    """ "the cycle count of 10:02" (or "an earlier WMS change" when the trace found none)."""
    if origin is None:
        return "an earlier WMS change"
    kind = EVENT_WORDS.get(origin.kind, origin.kind.replace("_", " "))
    return f"the {kind} of {clock(origin.at, time_zone, day_of=day_of)}"


def _window_miss(
    *, system: str, window: Window | None, waited: dt.timedelta | None, carried: str, event: str, tail: str
) -> str:
    """ "The ERP's 15-minute sync window had not carried X when …" or, when it had waited longer than
    its window, "The ERP had not carried X when …: longer than …, so a sync ran late or failed"."""
    if window is None or waited is None:
        return f"The {system} had not {carried} {event} when {tail}."
    if window.seconds >= waited.total_seconds():
        if window.measured:
            return f"The {system}'s sync window (about {_minutes(window.seconds)} here, as measured) had not {carried} {event} when {tail}."
        return f"The {system}'s {window_words(window.seconds)} sync window had not {carried} {event} when {tail}."
    usual = (
        f"its usual {_minutes(window.seconds)} lag here"
        if window.measured
        else f"the {window_words(window.seconds)} window the hub reads it in"
    )
    article = "an" if system[0] in "AEIOU" else "a"
    return f"The {system} had not {carried} {event} when {tail}: longer than {usual}, so {article} {system} sync ran late or failed."


def root_cause_sentence(facts: TraceFacts) -> str:
    """One sentence per root-cause class, from the trace's own numbers and times (location time)."""
    tz, t = facts.time_zone, facts.ordered_at
    order = f"the order for {facts.quantity} arrived at {clock(t, tz, zone=True)}"
    event = origin_words(facts.origin, tz, day_of=t)
    if facts.root_cause == SYNC_WINDOW_WMS_ERP:
        waited = t - facts.origin.at if facts.origin else None
        later = f", {_minutes(waited)} later" if waited is not None else ""
        missed = f" ({_syncs(facts.erp_missed, 'ERP')} in between ran without it)" if facts.erp_missed else ""
        return _window_miss(
            system="ERP",
            window=facts.erp_window,
            waited=waited,
            carried="carried",
            event=event,
            tail=f"{order}{later}{missed}",
        )
    if facts.root_cause == SYNC_WINDOW_ERP_STOREFRONT:
        had = f"The ERP had {event}" + (
            f" by {clock(facts.erp_carried_at, tz, day_of=t)}" if facts.erp_carried_at else ""
        )
        since = facts.erp_carried_at or (facts.origin.at if facts.origin else None)
        waited = t - since if since else None
        later = f", {_minutes(waited)} after the ERP had it" if waited is not None and facts.erp_carried_at else ""
        missed = (
            f" ({_syncs(facts.storefront_missed, 'storefront')} in between ran without it)"
            if facts.storefront_missed
            else ""
        )
        rest = _window_miss(
            system="storefront",
            window=facts.storefront_window,
            waited=waited,
            carried="pulled",
            event="it",
            tail=f"{order}{later}{missed}",
        )
        # "The storefront('s …) had not pulled it …" follows the ERP's part after a comma.
        return f"{had}, but {rest[0].lower()}{rest[1:]}"
    if facts.root_cause == CHANNEL_ALLOCATION:
        origin = facts.origin
        whom = f"the {origin.channel} channel" if origin and origin.channel else "another channel"
        what = f"{_units(abs(origin.delta))} " if origin and origin.delta else "stock "
        when = f" at {clock(origin.at, tz, day_of=t)}" if origin else ""
        return f"The WMS allocated {what}to {whom}{when}, but the storefront still showed {facts.shown} when {order}."
    if facts.root_cause == BOUNDARY_MISMATCH:
        extra = facts.shown - facts.truth
        return (
            f"The storefront counted stock in bins the WMS keeps out of the pool (quarantine, damaged): it showed "
            f"{facts.shown}, {extra} more than the {facts.truth} the WMS had available, when {order}."
        )
    if facts.root_cause == RULE_DIVERGENCE:
        return (
            f"Every system had the latest count, but the storefront applied other allocation rules: it showed "
            f"{facts.shown} where the WMS had {facts.truth} available when {order}."
        )
    if facts.root_cause == STOREFRONT_OVERSOLD:
        return (
            f"The storefront showed only {facts.shown} but still accepted the order for {facts.quantity} "
            f"at {clock(t, tz, zone=True)}."
        )
    return f"The storefront showed {facts.shown} where the WMS had {facts.truth} available when {order}."


# --- the waterfall ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class StepFacts:
    """One TraceStep's fields the waterfall reads."""

    position: int
    kind: str
    system: str
    hop: str
    occurred_at: dt.datetime | None
    lag_seconds: float | None
    quantity: int | None
    detail: str
    event_kind: str = ""  # the linked InventoryEvent's kind, when there is one


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """One row of the waterfall: a bar (start < end) or a point, as percentages of the lane."""

    step: StepFacts
    title: str
    lag: str  # the labelled lag or offset ("carried after 4 min", "9 min before the order")
    left: float
    width: float
    point: bool
    style: str  # CSS modifier: origin, carried, missed, shown, order, shortfall, cascade
    label_left: float  # where the lag label starts, beside the bar
    label_anchor: str  # "start" (right of the bar) or "end" (left of it)
    label_inside: bool  # a bar too long for a label beside it carries it inside
    note: str  # what the tracer's detail adds to the title ("WMS available 4 → 1")


@dataclasses.dataclass(frozen=True, slots=True)
class Waterfall:
    spans: tuple[Span, ...]
    ticks: tuple[tuple[float, str, str], ...]  # (percent, label, text-anchor)
    order_at: float  # percent of the order instant, drawn through every lane


# Percent of the lane a lag label needs beside its bar.
LABEL_ROOM = 22.0


def _short(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest and minutes < 10 else f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def step_title(step: StepFacts, *, truth: int | None = None) -> str:
    """What one step was, in a few words: "ERP synced without it", "Order for 3", …"""
    system = SYSTEM_WORDS.get(step.system, step.system or "")
    q = step.quantity
    if step.kind == "count_event":
        kind = step.event_kind or step.detail.split(":", 1)[0].split(" (", 1)[0]
        words = EVENT_WORDS.get(kind, kind.replace("_", " "))
        inferred = " (inferred)" if "(inferred)" in step.detail else ""
        return f"WMS {words}{inferred}" + (f" {q:+d}" if q is not None else "")
    if step.kind == "sync":
        return f"{system} carried it"
    if step.kind == "missed_sync":
        return (
            f"{system} synced without it"
            if step.occurred_at
            else f"No {system.replace('Storefront', 'storefront')} sync before the order"
        )
    if step.kind == "shown":
        return f"Storefront showed {q}"
    if step.kind == "order":
        return f"Order for {q}"
    if step.kind == "shortfall":
        return f"Short by {q}" + (f" (WMS had {truth})" if truth is not None else "")
    if step.kind == "cascade":
        what = step.detail or "adjustment"
        return what[0].upper() + what[1:] + (f" {q:+d}" if q is not None else "")
    return step.detail or step.kind


def waterfall(
    steps: Sequence[StepFacts], *, ordered_at: dt.datetime, time_zone: str, truth: int | None = None, ticks: int = 6
) -> Waterfall:
    """The trace as spans on one time axis from the originating event to the last cascade event.

    Hop syncs are bars from when their hop could first have carried the event (the origin for
    WMS → ERP, the ERP's carrying sync for ERP → storefront) to the sync; a hop with no sync
    before the order is a dashed bar up to the order. Everything at the order is a point.
    """
    origin_at = next((s.occurred_at for s in steps if s.kind == "count_event" and s.occurred_at), None)
    erp_carried = next((s.occurred_at for s in steps if s.kind == "sync" and s.hop == "wms_erp"), None)
    times = [s.occurred_at for s in steps if s.occurred_at] + [ordered_at]
    start, end = min(times), max(times)
    span_seconds = (end - start).total_seconds()
    if span_seconds < 60:
        start, end = start - dt.timedelta(seconds=30), end + dt.timedelta(seconds=30)
        span_seconds = (end - start).total_seconds()
    # A margin each side so points at the edges stay visible.
    pad = span_seconds * 0.03
    start, end = start - dt.timedelta(seconds=pad), end + dt.timedelta(seconds=pad)
    total = (end - start).total_seconds()

    def pct(at: dt.datetime) -> float:
        return round(100 * (at - start).total_seconds() / total, 3)

    spans = []
    for step in steps:
        title = step_title(step, truth=truth)
        at = step.occurred_at
        hop_start = (erp_carried or origin_at) if step.hop == "erp_storefront" else origin_at
        if step.kind == "count_event" and at is not None:
            bar = (at, ordered_at)
            lag = f"{_short((ordered_at - at).total_seconds())} before the order"
            style = "origin"
        elif step.kind == "sync" and at is not None:
            begin = at - dt.timedelta(seconds=step.lag_seconds) if step.lag_seconds is not None else hop_start or at
            bar = (begin, at)
            lag = f"carried after {_short((at - begin).total_seconds())}"
            style = "carried"
        elif step.kind == "missed_sync":
            begin = hop_start or at or ordered_at
            bar = (begin, at or ordered_at)
            lag = (
                f"{_short((at - begin).total_seconds())} after, without it"
                if at
                else f"no sync in {_short((ordered_at - begin).total_seconds())}"
            )
            style = "missed"
        else:
            point_at = at or ordered_at
            bar = (point_at, point_at)
            if step.kind == "cascade":
                lag = f"{_short((point_at - ordered_at).total_seconds())} after the order"
            else:
                lag = "at the order"
            style = step.kind if step.kind in {"shown", "order", "shortfall", "cascade"} else "order"
        left, right = pct(bar[0]), pct(bar[1])
        point = right - left < 0.5
        # The label goes where it fits: right of the bar, else left of it, else inside it.
        if 100 - right >= LABEL_ROOM:
            label_left, anchor, inside = right + 1.2, "start", False
        elif left >= LABEL_ROOM:
            label_left, anchor, inside = left - 1.2, "end", False
        else:
            label_left, anchor, inside = left + 1.2, "start", True
        spans.append(
            Span(
                step=step,
                title=title,
                lag=lag,
                left=left,
                width=max(right - left, 0.0),
                point=point,
                style=style,
                label_left=label_left,
                label_anchor=anchor,
                label_inside=inside,
                note=step.detail.split(": ", 1)[-1] if step.kind == "count_event" else "",
            )
        )
    tick_list = []
    for index in range(ticks):
        at = start + dt.timedelta(seconds=total * index / (ticks - 1))
        anchor = "start" if index == 0 else "end" if index == ticks - 1 else "middle"
        tick_list.append((round(100 * index / (ticks - 1), 3), clock(at, time_zone), anchor))
    return Waterfall(spans=tuple(spans), ticks=tuple(tick_list), order_at=pct(ordered_at))


# --- the timeline chart ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class OpenSeries:
    """Discrepancies open during each bucket, per class."""

    starts: tuple[dt.datetime, ...]
    step: dt.timedelta
    counts: Mapping[str, tuple[int, ...]]  # class → one count per bucket


def open_discrepancy_figure(series: OpenSeries, *, time_zone: str, class_labels: Mapping[str, str]) -> dict[str, Any]:
    """Stacked bars of open discrepancies per bucket, one trace per class in the class colours."""
    tz = zoneinfo.ZoneInfo(time_zone)
    x = [start.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") for start in series.starts]
    # Bars are centred on the middle of their bucket.
    width_ms = series.step.total_seconds() * 1000 * 0.9
    offset = [(s + series.step / 2).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") for s in series.starts]
    data = []
    for cls, label in class_labels.items():
        counts = series.counts.get(cls)
        if not counts or not any(counts):
            continue
        data.append(
            {
                "type": "bar",
                "name": label,
                "x": offset,
                "y": list(counts),
                "width": width_ms,
                "marker": {"color": charts.CLASS_COLOURS.get(cls, "#64748b")},
                "customdata": x,
                "hovertemplate": f"{label}: %{{y}}<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": charts.layout(
            height=240,
            barmode="stack",
            bargap=0.05,
            showlegend=True,
            # Room above the plot for the legend (the shared layout puts it on top).
            margin={"l": 48, "r": 16, "t": 30, "b": 40},
            # Stacked bars list their legend top-down by default; keep the classes' own order.
            legend={
                "orientation": "h",
                "y": 1.02,
                "yanchor": "bottom",
                "x": 0,
                "xanchor": "left",
                "traceorder": "normal",
            },
        ),
    }
