"""Reads of the discrepancy timeline: one filtered page of discrepancies, and open ones over time.

Bounded query count: the page is one query (plus a capped count), its related oversells one more,
and the chart one grouped aggregate computed in SQL over the chosen range.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from functools import reduce
from operator import or_
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, Min, Q, QuerySet
from django.urls import reverse

from inventory_hub.dashboard.explain import HOP_WORDS, OpenSeries
from inventory_hub.dashboard.selectors.paging import COUNT_CAP, CappedPage
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass
from inventory_hub.tracing.models import Oversell

PER_PAGE = 50
MAX_BUCKETS = 60
BUCKET_STEPS = tuple(dt.timedelta(minutes=m) for m in (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080))
# Related oversells shown per discrepancy row; the rest are behind a link to the filtered list.
RELATED_PER_ROW = 3
SERIES_CACHE_SECONDS = 60
# How far before a chart's start discrepancies closed inside it are looked for.
LOOK_BACK = dt.timedelta(days=7)


class State:
    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


@dataclasses.dataclass(frozen=True, slots=True)
class DiscrepancyFilters:
    location_id: int | None = None
    sku: str = ""
    classification: str = ""
    hop: str = ""
    state: str = State.OPEN
    acknowledged: bool | None = None
    opened_from: dt.datetime | None = None
    opened_to: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OversellLink:
    id: int
    ordered_at: dt.datetime
    shortfall: int
    url: str = ""
    ordered_local: str = ""  # "H:i" at the location


@dataclasses.dataclass(frozen=True, slots=True)
class DiscrepancyRow:
    discrepancy: Discrepancy
    duration_seconds: float
    oversells: tuple[OversellLink, ...]
    more_oversells: int
    # Display strings made once here: a page renders 50 rows, and the template's {% url %} and
    # date filters cost about as much as the page's queries.
    location_url: str = ""
    sku_url: str = ""
    acknowledge_url: str = ""
    more_oversells_url: str = ""
    opened_local: str = ""  # "Nov 28, 10:02 CET" at the location
    opened_utc: str = ""

    @property
    def time_zone(self) -> str:
        return self.discrepancy.location.time_zone

    @property
    def hop_label(self) -> str:
        return HOP_WORDS.get(self.discrepancy.hop, self.discrepancy.hop)


DiscrepancyPage = CappedPage[DiscrepancyRow]


def _key_filtered(filters: DiscrepancyFilters) -> QuerySet[Discrepancy]:
    """Filters on what a discrepancy is (where, what, which hop, which class), not on its state."""
    rows = Discrepancy.objects.all()
    if filters.location_id is not None:
        rows = rows.filter(location_id=filters.location_id)
    if filters.sku:
        rows = rows.filter(sku=filters.sku)
    if filters.classification:
        rows = rows.filter(classification=filters.classification)
    if filters.hop:
        rows = rows.filter(hop=filters.hop)
    return rows


def discrepancy_filtered(filters: DiscrepancyFilters) -> QuerySet[Discrepancy]:
    rows = _key_filtered(filters)
    if filters.state == State.OPEN:
        rows = rows.filter(closed_at__isnull=True)
    elif filters.state == State.CLOSED:
        rows = rows.filter(closed_at__isnull=False)
    if filters.acknowledged is not None:
        rows = rows.filter(acknowledged_at__isnull=not filters.acknowledged)
    if filters.opened_from is not None:
        rows = rows.filter(opened_at__gte=filters.opened_from)
    if filters.opened_to is not None:
        rows = rows.filter(opened_at__lt=filters.opened_to)
    return rows


def _with_display_fields(rows: QuerySet[Discrepancy]) -> QuerySet[Discrepancy]:
    return rows.select_related("location", "acknowledged_by").only(
        "location__code",
        "location__name",
        "location__time_zone",
        "sku",
        "hop",
        "classification",
        "opened_at",
        "closed_at",
        "upstream_quantity",
        "downstream_quantity",
        "peak_gap",
        "acknowledged_at",
        "acknowledged_by__username",
        "acknowledgement_note",
    )


def _related_oversells(discrepancies: Sequence[Discrepancy], *, now: dt.datetime) -> dict[int, list[OversellLink]]:
    """Oversells of each discrepancy's (location, SKU) ordered while it was open: one query for the page."""
    if not discrepancies:
        return {}
    windows = {d.pk: (d.location_id, d.sku, d.opened_at, d.closed_at or now) for d in discrepancies}
    condition = reduce(
        or_,
        (
            Q(location_id=location_id, sku=sku, ordered_at__gte=opened, ordered_at__lte=closed)
            for location_id, sku, opened, closed in set(windows.values())
        ),
    )
    by_key: dict[tuple[int, str], list[OversellLink]] = defaultdict(list)
    for pk, location_id, sku, ordered_at, shortfall in (
        Oversell.objects.filter(condition)
        .order_by("-ordered_at")
        .values_list("pk", "location_id", "sku", "ordered_at", "shortfall")[:2000]
    ):
        by_key[(location_id, sku)].append(OversellLink(pk, ordered_at, shortfall))
    return {
        pk: [o for o in by_key.get((location_id, sku), []) if opened <= o.ordered_at <= closed]
        for pk, (location_id, sku, opened, closed) in windows.items()
    }


class _Urls:
    """URLs of the rows' links: reversed once per page with a placeholder id, then filled in."""

    PLACEHOLDER = 2_147_483_647

    def __init__(self) -> None:
        self._patterns = {
            name: reverse(f"dashboard:{name}", args=[self.PLACEHOLDER])
            for name in ("location-detail", "discrepancy-acknowledge", "oversell-detail")
        }
        self.oversell_list = reverse("dashboard:oversell-list")

    def of(self, name: str, pk: int) -> str:
        return self._patterns[name].replace(str(self.PLACEHOLDER), str(int(pk)), 1)


def _local(at: dt.datetime, zone: str) -> dt.datetime:
    return at.astimezone(_zone(zone))


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _rows(discrepancies: Sequence[Discrepancy], *, now: dt.datetime) -> tuple[DiscrepancyRow, ...]:
    related = _related_oversells(discrepancies, now=now)
    urls = _Urls()
    rows = []
    for d in discrepancies:
        zone = d.location.time_zone
        opened = _local(d.opened_at, zone)
        links = tuple(
            dataclasses.replace(
                o, url=urls.of("oversell-detail", o.id), ordered_local=f"{_local(o.ordered_at, zone):%H:%M}"
            )
            for o in related.get(d.pk, [])[:RELATED_PER_ROW]
        )
        more = max(0, len(related.get(d.pk, [])) - RELATED_PER_ROW)
        rows.append(
            DiscrepancyRow(
                discrepancy=d,
                duration_seconds=((d.closed_at or now) - d.opened_at).total_seconds(),
                oversells=links,
                more_oversells=more,
                location_url=urls.of("location-detail", d.location_id),
                sku_url=reverse("dashboard:sku-detail", args=[d.location_id, d.sku]),
                acknowledge_url=urls.of("discrepancy-acknowledge", d.pk),
                more_oversells_url=f"{urls.oversell_list}?{urlencode({'location': d.location_id, 'sku': d.sku})}"
                if more
                else "",
                opened_local=f"{opened:%b} {opened.day}, {opened:%H:%M} {opened.tzname()}",
                opened_utc=f"{d.opened_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}",
            )
        )
    return tuple(rows)


def discrepancy_page(
    *, filters: DiscrepancyFilters, page: int, now: dt.datetime, per_page: int = PER_PAGE
) -> DiscrepancyPage:
    """One page of matching discrepancies, newest opened first, with their related oversells."""
    page = max(1, page)
    matching = discrepancy_filtered(filters)
    total = matching[: COUNT_CAP + 1].count()
    last_page = max(1, -(-min(total, COUNT_CAP) // per_page))
    page = min(page, last_page)
    offset = (page - 1) * per_page
    found = list(_with_display_fields(matching).order_by("-opened_at", "-pk")[offset : offset + per_page + 1])
    return DiscrepancyPage(
        rows=_rows(found[:per_page], now=now),
        number=page,
        per_page=per_page,
        total=total,
        has_next=len(found) > per_page,
    )


def discrepancy_row_get(*, discrepancy_id: int, now: dt.datetime) -> DiscrepancyRow | None:
    """One row of the list (after an acknowledgement re-renders it)."""
    found = list(_with_display_fields(Discrepancy.objects.filter(pk=discrepancy_id)))
    return _rows(found, now=now)[0] if found else None


def discrepancy_chart_start(
    *, filters: DiscrepancyFilters, since: dt.datetime, until: dt.datetime
) -> dt.datetime | None:
    """Where a chart of [since, until] has something to show: `since` when a discrepancy opened
    before it was still open at it, else when the first one opened inside it (None: nothing).

    Each read is bounded, never a scan of all history (a year of closed discrepancies would be):
    open ones are few; closed ones are looked for only among those opened within LOOK_BACK before
    `since` (one open longer than that and closed since only shifts the chart's first bars).
    """
    # Kept as long as the chart's series: the start moves only when discrepancies open or close.
    grid = (dataclasses.astuple(filters), int(since.timestamp()) // SERIES_CACHE_SECONDS)
    key = "discrepancy-chart-start:" + hashlib.sha256(repr(grid).encode()).hexdigest()
    cached = cache.get(key)
    if cached is None:
        rows = _key_filtered(filters)
        if rows.filter(closed_at__isnull=True, opened_at__lt=since).exists() or (
            rows.filter(opened_at__gte=since - LOOK_BACK, opened_at__lt=since, closed_at__gt=since).exists()
        ):
            cached = ("since", None)
        else:
            first = rows.filter(opened_at__gte=since, opened_at__lte=until).aggregate(first=Min("opened_at"))
            cached = ("first", first["first"])
        cache.set(key, cached, SERIES_CACHE_SECONDS)
    return since if cached[0] == "since" else cached[1]


def bucket_step(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """The smallest round bucket that keeps the chart at MAX_BUCKETS bars or fewer."""
    span = end - start
    for step in BUCKET_STEPS:
        if span / step <= MAX_BUCKETS:
            return step
    return span / MAX_BUCKETS


def discrepancy_open_series(*, filters: DiscrepancyFilters, start: dt.datetime, end: dt.datetime) -> OpenSeries:
    """How many discrepancies were open during each bucket of [start, end), per class: one SQL aggregate,
    kept SERIES_CACHE_SECONDS per filter and bucket grid.

    Only the key filters apply (location, SKU, class, hop): a chart of "open over time" limited to
    what is open *now* would only ever rise. Cached because the aggregate reads every discrepancy
    overlapping the range (~70 ms for 60,000 open ones) while its buckets are 5 minutes or more:
    refiltering and paging the list then do not pay for it again.
    """
    step = bucket_step(start, end)
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    first = epoch + ((start - epoch) // step) * step  # round buckets: 10:00, 10:15, …
    starts: list[dt.datetime] = []
    at = first
    while at < end:
        starts.append(at)
        at += step
    # Keyed by the bucket grid, not the exact range: "now" moves every request, the grid every step.
    grid = (dataclasses.astuple(filters), first.isoformat(), step.total_seconds(), len(starts))
    key = "discrepancy-series:" + hashlib.sha256(repr(grid).encode()).hexdigest()
    cached = cache.get(key)
    if cached is None:
        cached = _open_series(filters=filters, starts=starts, step=step)
        cache.set(key, cached, SERIES_CACHE_SECONDS)
    return cached


def _open_series(*, filters: DiscrepancyFilters, starts: list[dt.datetime], step: dt.timedelta) -> OpenSeries:
    first = starts[0]
    overlapping = _key_filtered(filters).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=first), opened_at__lt=starts[-1] + step
    )
    aggregates = {
        f"b{index}": Count(
            "pk", filter=Q(opened_at__lt=bucket + step) & (Q(closed_at__isnull=True) | Q(closed_at__gt=bucket))
        )
        for index, bucket in enumerate(starts)
    }
    counts: dict[str, tuple[int, ...]] = {}
    for row in overlapping.values("classification").annotate(**aggregates).order_by():
        counts[row["classification"]] = tuple(row[f"b{index}"] for index in range(len(starts)))
    ordered = {cls: counts[cls] for cls in DiscrepancyClass.values if cls in counts}
    return OpenSeries(starts=tuple(starts), step=step, counts=ordered)
