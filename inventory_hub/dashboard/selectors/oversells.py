"""Reads of the oversell pages: a filtered page of oversells, and one oversell's trace with its context."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import Avg, Count, Q, QuerySet

from inventory_hub.connectors.models import Connector, Role
from inventory_hub.dashboard.explain import EVENT_WORDS
from inventory_hub.dashboard.selectors.paging import COUNT_CAP, CappedPage
from inventory_hub.reconciliation.models import Discrepancy, HopLagSample
from inventory_hub.tracing.models import Oversell, RootCause, TraceStep

PER_PAGE = 50
# A hop's typical lag at a location: the average of the lags measured in this window before the order,
# when at least LAG_MIN_SAMPLES were.
LAG_WINDOW = dt.timedelta(hours=24)
LAG_MIN_SAMPLES = 3


@dataclasses.dataclass(frozen=True, slots=True)
class OversellFilters:
    location_id: int | None = None
    sku: str = ""
    root_cause: str = ""
    ordered_from: dt.datetime | None = None
    ordered_to: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OversellRow:
    oversell: Oversell
    origin_kind: str  # an EventKind value ("" when the trace found no originating event)
    origin_at: dt.datetime | None
    origin_delta: int | None
    origin_inferred: bool  # an allocation inferred from the WMS's allocated count, not a listed event

    @property
    def origin_label(self) -> str:
        words = EVENT_WORDS.get(self.origin_kind, self.origin_kind.replace("_", " "))
        return words[:1].upper() + words[1:] + (" (inferred)" if self.origin_inferred else "")


OversellPage = CappedPage[OversellRow]


def _filtered(filters: OversellFilters, *, with_root_cause: bool = True) -> QuerySet[Oversell]:
    rows = Oversell.objects.all()
    if filters.location_id is not None:
        rows = rows.filter(location_id=filters.location_id)
    if filters.sku:
        rows = rows.filter(sku=filters.sku)
    if with_root_cause and filters.root_cause:
        rows = rows.filter(root_cause=filters.root_cause)
    if filters.ordered_from is not None:
        rows = rows.filter(ordered_at__gte=filters.ordered_from)
    if filters.ordered_to is not None:
        rows = rows.filter(ordered_at__lt=filters.ordered_to)
    return rows


def oversell_page(*, filters: OversellFilters, page: int, per_page: int = PER_PAGE) -> OversellPage:
    """One page of matching oversells, newest first, with location, order and originating event."""
    page = max(1, page)
    matching = _filtered(filters)
    total = matching[: COUNT_CAP + 1].count()
    page = min(page, max(1, -(-min(total, COUNT_CAP) // per_page)))
    offset = (page - 1) * per_page
    found = list(
        matching.select_related("location", "order_line__order", "originating_event")
        .only(
            "location__code",
            "location__name",
            "location__time_zone",
            "sku",
            "ordered_at",
            "quantity",
            "shown",
            "truth",
            "shortfall",
            "root_cause",
            "order_line__order__name",
            "order_line__order__channel",
            "originating_event__kind",
            "originating_event__occurred_at",
            "originating_event__delta",
        )
        .order_by("-ordered_at", "-pk")[offset : offset + per_page + 1]
    )
    return OversellPage(
        rows=_rows(found[:per_page]), number=page, per_page=per_page, total=total, has_next=len(found) > per_page
    )


def _rows(oversells: list[Oversell]) -> tuple[OversellRow, ...]:
    """Each oversell with its originating step: one query for the page (inferred allocations have no event row)."""
    origins = {
        oversell_id: (at, delta, detail)
        for oversell_id, at, delta, detail in TraceStep.objects.filter(
            oversell_id__in=[o.pk for o in oversells], kind=TraceStep.Kind.COUNT_EVENT
        ).values_list("oversell_id", "occurred_at", "quantity", "detail")
    }
    rows = []
    for oversell in oversells:
        at, delta, detail = origins.get(oversell.pk, (None, None, ""))
        event = oversell.originating_event
        rows.append(
            OversellRow(
                oversell=oversell,
                origin_kind=event.kind if event else detail.split(":", 1)[0].split(" (", 1)[0],
                origin_at=event.occurred_at if event else at,
                origin_delta=event.delta if event else delta,
                origin_inferred="(inferred)" in detail,
            )
        )
    return tuple(rows)


def oversell_root_cause_counts(*, filters: OversellFilters) -> dict[str, int]:
    """How many oversells each root cause explains under the other filters (one grouped query)."""
    rows = _filtered(filters, with_root_cause=False).values("root_cause").annotate(n=Count("pk")).order_by()
    counts = {row["root_cause"]: row["n"] for row in rows}
    return {cause: counts[cause] for cause in RootCause.values if cause in counts}


@dataclasses.dataclass(frozen=True, slots=True)
class OversellTrace:
    """One oversell with its steps and what the page shows around them."""

    oversell: Oversell
    steps: tuple[TraceStep, ...]
    poll_intervals: dict[str, int]  # role → the longest poll interval of that role's connectors here
    typical_lags: dict[str, float]  # hop → average measured lag (seconds) here in the day before the order
    discrepancies: tuple[Discrepancy, ...]


def oversell_trace_get(*, oversell_id: int) -> OversellTrace | None:
    """The oversell, its trace steps in order, the poll intervals of its location's connectors, the hops'
    measured lags there, and the discrepancies on its (location, SKU) open between the originating
    event and the order (five queries)."""
    oversell = (
        Oversell.objects.select_related("location", "order_line__order__connector", "originating_event")
        .filter(pk=oversell_id)
        .first()
    )
    if oversell is None:
        return None
    steps = tuple(
        TraceStep.objects.filter(oversell=oversell)
        .select_related("event")
        .only(
            "position",
            "kind",
            "system",
            "hop",
            "occurred_at",
            "lag_seconds",
            "quantity",
            "detail",
            "event__kind",
            "event__source_event_id",
        )
        .order_by("position")
    )
    # The connectors mapped to this location; without mappings, every connector of the role.
    intervals: dict[str, int] = {}
    mapped: dict[str, int] = {}
    for role, seconds, is_mapped in (
        Connector.objects.filter(role__in=[Role.ERP, Role.STOREFRONT, Role.WMS])
        .annotate(here=Count("location_mappings", filter=Q(location_mappings__location_id=oversell.location_id)))
        .values_list("role", "poll_interval_seconds", "here")
    ):
        intervals[role] = max(intervals.get(role, 0), seconds)
        if is_mapped:
            mapped[role] = max(mapped.get(role, 0), seconds)
    intervals.update(mapped)
    begin = min([s.occurred_at for s in steps if s.occurred_at] + [oversell.ordered_at])
    discrepancies = tuple(
        Discrepancy.objects.filter(
            Q(closed_at__isnull=True) | Q(closed_at__gte=begin),
            location_id=oversell.location_id,
            sku=oversell.sku,
            opened_at__lte=oversell.ordered_at,
        )
        .only(
            "location_id",
            "sku",
            "hop",
            "classification",
            "opened_at",
            "closed_at",
            "peak_gap",
            "upstream_quantity",
            "downstream_quantity",
            "acknowledged_at",
        )
        .order_by("-opened_at")[:20]
    )
    lags = {
        row["hop"]: row["lag"]
        for row in HopLagSample.objects.filter(
            location_id=oversell.location_id,
            wms_changed_at__gte=oversell.ordered_at - LAG_WINDOW,
            wms_changed_at__lt=oversell.ordered_at,
            lag_seconds__isnull=False,
        )
        .exclude(method__in=HopLagSample.UNDATED_METHODS)
        .values("hop")
        .annotate(lag=Avg("lag_seconds"), n=Count("pk"))
        .order_by()
        if row["n"] >= LAG_MIN_SAMPLES
    }
    return OversellTrace(
        oversell=oversell, steps=steps, poll_intervals=intervals, typical_lags=lags, discrepancies=discrepancies
    )
