"""The location view (the cross-system grid, one row per SKU) and one SKU's history across the three systems.

The grid pages in SQL (distinct SKUs of the location, LIMIT/OFFSET on the (location, sku) index)
and reads positions only for the page's SKUs, through the same reads and comparable functions
reconciliation uses, so the numbers and the gap classes shown are the ones it compared.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from inventory_hub.connectors.models import Connector, PollRun, Role
from inventory_hub.dashboard import charts
from inventory_hub.dashboard.templatetags.hub import age
from inventory_hub.inventory.models import Location
from inventory_hub.observations.models import EventKind, InventoryEvent, InventoryPosition
from inventory_hub.reconciliation import comparable
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass, Hop
from inventory_hub.tracing.models import Oversell

PER_PAGE = 50
# A system's numbers are "old" past this many of its poll intervals, "very old" past the second.
OLD_POLLS, VERY_OLD_POLLS = 3, 10
# Short enough for a grid cell; the full names are in Hop's choices.
HOP_LABELS = {Hop.WMS_ERP: "WMS → ERP", Hop.ERP_STOREFRONT: "ERP → storefront", Hop.WMS_STOREFRONT: "End to end"}
CLASS_LABELS = dict(DiscrepancyClass.choices)
# Which cell of the grid a hop's gap is drawn on: the downstream number it compared.
HOP_CELLS = {Hop.WMS_ERP: "erp", Hop.ERP_STOREFRONT: "storefront", Hop.WMS_STOREFRONT: "storefront"}
SYSTEMS = ((Role.WMS, "WMS"), (Role.ERP, "ERP"), (Role.STOREFRONT, "Storefront"))


# --- filters -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class GridFilters:
    """What the grid is narrowed to: only discrepant keys, one class, a SKU search; and the page."""

    discrepant: bool = False
    classification: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> GridFilters:
        """Parse the query string; unknown values fall back to "no filter" rather than an error."""
        classification = query.get("class", "")
        try:
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            discrepant=query.get("discrepant", "") in ("1", "on", "true"),
            classification=classification if classification in CLASS_LABELS else "",
            q=query.get("q", "").strip()[:120],
            page=page,
        )

    @property
    def active(self) -> bool:
        return self.discrepant or bool(self.classification) or bool(self.q)

    def querystring(self, **overrides: Any) -> str:
        """This filter set as a query string (without the page unless given), for links."""
        values = {"discrepant": "1" if self.discrepant else "", "class": self.classification, "q": self.q}
        values.update({k: str(v) for k, v in overrides.items()})
        return urlencode({k: v for k, v in values.items() if v})


# --- freshness -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Freshness:
    """How fresh one system's numbers are: as fresh as its connectors' last successful poll.

    Connectors read incrementally (an incremental read returns only what changed), so a position's
    own observed_at says when it last changed, not when it was last confirmed: every poll that
    succeeded confirmed every position it did not return.
    """

    role: str
    label: str
    as_of: dt.datetime | None  # the oldest of the role's connectors' last successful poll starts
    interval_seconds: int
    connectors: int
    state: str  # fresh, old (past OLD_POLLS intervals), very-old (past VERY_OLD_POLLS) or never


def _freshness_state(as_of: dt.datetime | None, interval_seconds: int, now: dt.datetime) -> str:
    if as_of is None:
        return "never"
    age = (now - as_of).total_seconds()
    if age > VERY_OLD_POLLS * interval_seconds:
        return "very-old"
    if age > OLD_POLLS * interval_seconds:
        return "old"
    return "fresh"


def connectors_with_freshness(*, now: dt.datetime) -> tuple[dict[str, list[Connector]], dict[str, Freshness]]:
    """Enabled connectors by role, and each role's freshness (one query)."""
    last_ok = PollRun.objects.filter(connector=OuterRef("pk"), status=PollRun.Status.SUCCEEDED).order_by("-started_at")
    by_role: dict[str, list[Connector]] = {role: [] for role in Role.values}
    for connector in (
        Connector.objects.filter(enabled=True)
        .defer("credentials")  # a page never needs the secrets (nor the cost of decrypting them)
        .annotate(last_success=Subquery(last_ok.values("started_at")[:1]))
        .order_by("pk")
    ):
        by_role[connector.role].append(connector)
    freshness = {}
    for role, label in SYSTEMS:
        found = by_role[role]
        stamps = [c.last_success for c in found]  # type: ignore[attr-defined]
        as_of = None if not found or None in stamps else min(stamps)
        interval = max((c.poll_interval_seconds for c in found), default=0)
        freshness[role] = Freshness(
            role=role,
            label=label,
            as_of=as_of,
            interval_seconds=interval,
            connectors=len(found),
            state=_freshness_state(as_of, interval, now),
        )
    return by_role, freshness


# --- grid rows -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RowGap:
    """One open discrepancy of a row."""

    hop: str
    hop_label: str
    classification: str
    class_label: str
    gap: int


@dataclasses.dataclass(frozen=True, slots=True)
class GridRow:
    """One SKU at the location: what each system says, what the storefront should show, and the gaps."""

    sku: str
    wms_on_hand: int | None
    wms_allocated: int | None
    wms_available: int | None  # the comparable: on hand in the boundary's bins − allocated
    wms_excluded: int  # on hand in bins the boundary excludes (quarantine, damaged)
    wms_since: dt.datetime | None
    erp: int | None  # on hand − reserved
    erp_since: dt.datetime | None  # when the hub first saw the ERP's current number: its last sync that changed it
    storefront: int | None
    storefront_since: dt.datetime | None
    expected_atp: int | None
    phantom: int
    gaps: tuple[RowGap, ...]
    cell_class: Mapping[str, str]  # "erp" / "storefront" / "expected" → the class of the gap drawn there
    # Display strings made once here (50 rows a page: template date filters and {% url %} cost
    # about as much as the page's queries). Times are the location's wall clock.
    sku_url: str = ""
    wms_since_text: str = ""
    erp_since_text: str = ""
    erp_age: str = ""
    storefront_since_text: str = ""

    @property
    def gaps_by_class(self) -> list[tuple[str, str, list[RowGap]]]:
        """(class, label, its gaps): one badge per class keeps a row to one line."""
        grouped: dict[str, list[RowGap]] = {}
        for gap in self.gaps:
            grouped.setdefault(gap.classification, []).append(gap)
        return [(cls, found[0].class_label, found) for cls, found in grouped.items()]


# Precedence when two hops' gaps fall on one cell: the end-to-end one is what customers see.
_CELL_ORDER = (Hop.WMS_STOREFRONT, Hop.ERP_STOREFRONT, Hop.WMS_ERP)


def grid_rows(
    *, location: Location, skus: Sequence[str], connectors: Mapping[str, list[Connector]], now: dt.datetime
) -> list[GridRow]:
    """The rows of the given SKUs, in the given order (seven queries, whatever the number of SKUs)."""
    if not skus:
        return []
    scope = {location.pk: frozenset(skus)}
    excluded = reconciliation_selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]])
    observations = reconciliation_selectors.key_observation_map(
        scope=scope,
        connectors=connectors,
        excluded_bins=excluded,
        rules=reconciliation_selectors.rules_in_force_by_location(at=now),
    )
    open_gaps: dict[str, dict[str, tuple[str, int]]] = defaultdict(dict)
    for sku, hop, classification, upstream, downstream in reconciliation_selectors.discrepancy_open_list(
        scope=scope
    ).values_list("sku", "hop", "classification", "upstream_quantity", "downstream_quantity"):
        open_gaps[sku][hop] = (classification, downstream - upstream)
    zone = location.tzinfo
    sku_urls = sku_url_maker(location.pk)
    rows = []
    for sku in skus:
        observation = observations.get((location.pk, sku))
        gaps = open_gaps.get(sku, {})
        cell_class: dict[str, str] = {}
        for hop in _CELL_ORDER:
            if hop in gaps:
                cell_class.setdefault(HOP_CELLS[hop], gaps[hop][0])
        if Hop.WMS_STOREFRONT in gaps:
            cell_class["expected"] = gaps[Hop.WMS_STOREFRONT][0]
        row_gaps = tuple(
            RowGap(hop, HOP_LABELS[hop], gaps[hop][0], CLASS_LABELS.get(gaps[hop][0], gaps[hop][0]), gaps[hop][1])
            for hop in Hop.values
            if hop in gaps
        )
        sku_url = sku_urls(sku)
        if observation is None:
            rows.append(
                GridRow(sku, None, None, None, 0, None, None, None, None, None, None, 0, row_gaps, cell_class, sku_url)
            )
            continue
        values = comparable.key_comparables(observation)
        wms_excluded = sum(
            quantity for p in observation.wms for name, quantity in p.bins.items() if name in p.excluded_bins
        )
        shown = max((p.available for p in observation.storefronts), default=None)
        phantom = max(0, shown - values.wms) if shown is not None and values.wms is not None else 0
        rows.append(
            GridRow(
                sku=sku,
                wms_on_hand=sum(p.total.on_hand for p in observation.wms) if observation.wms else None,
                wms_allocated=sum(p.total.allocated for p in observation.wms) if observation.wms else None,
                wms_available=values.wms,
                wms_excluded=wms_excluded,
                wms_since=values.wms_changed_at,
                erp=values.erp,
                erp_since=values.erp_changed_at,
                storefront=values.storefront,
                storefront_since=values.storefront_changed_at,
                expected_atp=values.expected_atp_from_wms,
                phantom=phantom,
                gaps=row_gaps,
                cell_class=cell_class,
                sku_url=sku_url,
                wms_since_text=_short(values.wms_changed_at, zone),
                erp_since_text=_short(values.erp_changed_at, zone),
                erp_age=age(values.erp_changed_at, now),
                storefront_since_text=_short(values.storefront_changed_at, zone),
            )
        )
    return rows


_SKU_PLACEHOLDER = "SKU-PLACEHOLDER-0"


def sku_url_maker(location_id: int) -> Callable[[str], str]:
    """The SKU pages' URLs at one location: reversed once, the SKU quoted in as reverse() quotes it."""
    pattern = reverse("dashboard:sku-detail", args=[location_id, _SKU_PLACEHOLDER])
    return lambda sku: pattern.replace(_SKU_PLACEHOLDER, quote(sku, safe=RFC3986_SUBDELIMS + "/~:@"), 1)


def _short(at: dt.datetime | None, zone: dt.tzinfo) -> str:
    """ "Nov 28, 10:02" at the location ("" when unknown)."""
    if at is None:
        return ""
    local = at.astimezone(zone)
    return f"{local:%b} {local.day}, {local:%H:%M}"


@dataclasses.dataclass(frozen=True, slots=True)
class LocationGrid:
    """One page of the location's grid, with what the filters and headers need."""

    location: Location
    filters: GridFilters
    rows: list[GridRow]
    page: Page[str]
    freshness: Mapping[str, Freshness]
    open_by_class: tuple[tuple[str, str, int], ...]  # (class, label, open count at the location)
    open_total: int

    @property
    def previous_query(self) -> str:
        return self.filters.querystring(page=self.page.previous_page_number()) if self.page.has_previous() else ""

    @property
    def next_query(self) -> str:
        return self.filters.querystring(page=self.page.next_page_number()) if self.page.has_next() else ""


def _sku_queryset(location: Location, filters: GridFilters) -> QuerySet[Any]:
    """The location's SKUs matching the filters, in SKU order, as one SQL query to paginate."""
    if filters.discrepant or filters.classification:
        keys: QuerySet[Any] = Discrepancy.objects.filter(location=location, closed_at__isnull=True)
        if filters.classification:
            keys = keys.filter(classification=filters.classification)
    else:
        # Every connector's rows (bins included): the (location, sku) index answers it alone.
        keys = InventoryPosition.objects.filter(location=location)
    if filters.q:
        keys = keys.filter(sku__icontains=filters.q)
    return keys.order_by("sku").values_list("sku", flat=True).distinct()


def location_grid(*, location: Location, filters: GridFilters, now: dt.datetime) -> LocationGrid:
    """One page of the grid: SKUs paged in SQL, positions read for that page only (about eleven queries)."""
    connectors, freshness = connectors_with_freshness(now=now)
    paginator: Paginator[str] = Paginator(_sku_queryset(location, filters), PER_PAGE)
    page = paginator.get_page(filters.page)
    rows = grid_rows(location=location, skus=list(page.object_list), connectors=connectors, now=now)
    counts = dict(
        Discrepancy.objects.filter(location=location, closed_at__isnull=True)
        .values_list("classification")
        .annotate(n=Count("*"))
        .order_by()
        .values_list("classification", "n")
    )
    return LocationGrid(
        location=location,
        filters=filters,
        rows=rows,
        page=page,
        freshness=freshness,
        open_by_class=tuple((value, label, counts.get(value, 0)) for value, label in DiscrepancyClass.choices),
        open_total=sum(counts.values()),
    )


# --- SKU detail ----------------------------------------------------------------------------------

SKU_WINDOWS = {
    "6h": (dt.timedelta(hours=6), "6 h"),
    "24h": (dt.timedelta(hours=24), "24 h"),
    "3d": (dt.timedelta(days=3), "3 days"),
    "7d": (dt.timedelta(days=7), "7 days"),
}
DEFAULT_SKU_WINDOW = "24h"
MARKED_EVENTS = (EventKind.CYCLE_COUNT, EventKind.ADJUSTMENT)
LIST_LIMIT = 25


def sku_exists(*, location: Location, sku: str) -> bool:
    """Whether any system reports (or reported) the SKU at the location (one query)."""
    return (
        InventoryPosition.objects.filter(location=location, sku=sku).exists()
        or Discrepancy.objects.filter(location=location, sku=sku).exists()
    )


Step = tuple[dt.datetime, int]


def _fold_history(
    rows: Iterable[tuple[Any, ...]],
    *,
    location_id: int,
    roles: Mapping[int, str],
    excluded: Mapping[tuple[int, int], frozenset[str]],
) -> dict[str, list[Step]]:
    """One key's history rows (HISTORY_FIELDS, in changed_at order) → each system's comparable over time.

    Per instant any row changed: the WMS's totals (summed over WMS connectors) less the on hand
    of the bins its boundary excludes; the ERP's on hand − reserved; each storefront's available
    (a series per storefront connector, keyed "storefront:<id>").
    """
    wms_totals: dict[int, tuple[int, int]] = {}
    wms_bins: dict[int, dict[str, int]] = defaultdict(dict)
    erp: dict[int, int] = {}
    series: dict[str, list[Step]] = defaultdict(list)

    def push(name: str, at: dt.datetime, value: int) -> None:
        steps = series[name]
        if steps and steps[-1][1] == value:
            return
        if steps and steps[-1][0] == at:
            steps[-1] = (at, value)
        else:
            steps.append((at, value))

    for changed_at, group in itertools.groupby(rows, key=lambda row: row[8]):
        touched: set[str] = set()
        for connector_id, _location_id, _sku, bin_name, on_hand, allocated, available, _as_of, _ in group:
            role = roles.get(connector_id)
            if role == Role.WMS:
                if bin_name:
                    wms_bins[connector_id][bin_name] = on_hand
                else:
                    wms_totals[connector_id] = (on_hand, allocated)
                touched.add(Role.WMS)
            elif role == Role.ERP and not bin_name:
                erp[connector_id] = comparable.erp_comparable(on_hand=on_hand, allocated=allocated)
                touched.add(Role.ERP)
            elif role == Role.STOREFRONT and not bin_name:
                push(f"storefront:{connector_id}", changed_at, available)
        if Role.WMS in touched and wms_totals:
            value = sum(
                comparable.wms_comparable(
                    on_hand=on_hand,
                    allocated=allocated,
                    bins=wms_bins[connector_id],
                    excluded_bins=excluded.get((connector_id, location_id), frozenset()),
                )
                for connector_id, (on_hand, allocated) in wms_totals.items()
            )
            push(Role.WMS, changed_at, value)
        if Role.ERP in touched:
            push(Role.ERP, changed_at, sum(erp.values()))
    return dict(series)


def _clip(steps: list[Step], *, since: dt.datetime, until: dt.datetime) -> list[Step]:
    """The steps inside the window, starting with the value in force at `since` and ending at `until`."""
    times = [at for at, _ in steps]
    start = bisect.bisect_right(times, since)
    clipped = [(since, steps[start - 1][1])] if start > 0 else []
    clipped += [step for step in steps[start:] if step[0] <= until]
    if clipped:
        clipped.append((until, clipped[-1][1]))
    return clipped


def _value_at(steps: list[Step], at: dt.datetime) -> int | None:
    index = bisect.bisect_right([t for t, _ in steps], at)
    return steps[index - 1][1] if index > 0 else None


@dataclasses.dataclass(frozen=True, slots=True)
class SkuHistory:
    figure: dict[str, Any]
    has_data: bool
    count_events: int


def sku_history(
    *,
    location: Location,
    sku: str,
    connectors: Mapping[str, list[Connector]],
    since: dt.datetime,
    until: dt.datetime,
    oversells: Sequence[Oversell],
) -> SkuHistory:
    """The three systems' comparable quantities as step lines over the window, WMS count events and
    oversells marked, in the location's time zone (four queries: the key's history is read whole,
    because the value in force at the window's start may be a change long before it)."""
    roles = {c.pk: role for role, found in connectors.items() for c in found}
    wms_ids = [c.pk for c in connectors[Role.WMS]]
    excluded = reconciliation_selectors.wms_excluded_bin_map(connector_ids=wms_ids)
    rows = reconciliation_selectors.position_history_rows(
        connector_ids=sorted(roles), scope={location.pk: frozenset([sku])}, since=None, until=until
    )
    series = _fold_history(rows, location_id=location.pk, roles=roles, excluded=excluded)
    zone = location.tzinfo
    names = {c.pk: c.name for c in connectors[Role.STOREFRONT]}
    several = len(names) > 1
    data: list[dict[str, Any]] = []
    start = until
    for name in sorted(series, key=lambda n: (n.split(":")[0] != Role.WMS, n.split(":")[0] != Role.ERP, n)):
        steps = _clip(series[name], since=since, until=until)
        if not steps:
            continue
        start = min(start, steps[0][0])
        role = name.split(":")[0]
        label = {Role.WMS: "WMS available", Role.ERP: "ERP on hand − reserved"}.get(
            role, f"{names.get(int(name.split(':')[1]), 'Storefront')} available" if several else "Storefront available"
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label,
                "x": [_local(at, zone) for at, _ in steps],
                "y": [value for _, value in steps],
                "line": {"shape": "hv", "color": charts.SYSTEM_COLOURS[role], "width": 2},
                "hovertemplate": f"{label}: %{{y}}<extra></extra>",
            }
        )
    events = list(
        InventoryEvent.objects.filter(
            location=location,
            sku=sku,
            connector_id__in=wms_ids,
            kind__in=MARKED_EVENTS,
            occurred_at__gt=since,
            occurred_at__lte=until,
        )
        .order_by("occurred_at")
        .values_list("kind", "delta", "quantity_after", "occurred_at", "bin")
    )
    wms_steps = series.get(Role.WMS, [])
    if events:
        kinds = dict(EventKind.choices)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "WMS count events",
                "x": [_local(at, zone) for _, _, _, at, _ in events],
                "y": [_value_at(wms_steps, at) or 0 for _, _, _, at, _ in events],
                "marker": {
                    "symbol": "diamond",
                    "size": 10,
                    "color": "#f59e0b",
                    "line": {"color": "#78350f", "width": 1},
                },
                "text": [
                    f"{kinds.get(kind, kind)} {delta:+d}"
                    + (f" → on hand {after}" if after is not None else "")
                    + (f" (bin {bin_name})" if bin_name else "")
                    for kind, delta, after, _, bin_name in events
                ],
                "hovertemplate": "%{text}<extra></extra>",
            }
        )
    shown = [o for o in oversells if since < o.ordered_at <= until]
    if shown:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Oversells",
                "x": [_local(o.ordered_at, zone) for o in shown],
                "y": [o.shown for o in shown],
                "marker": {"symbol": "x", "size": 11, "color": charts.CLASS_COLOURS["stale"]},
                "text": [f"Ordered {o.quantity}, WMS had {o.truth}: short {o.shortfall}" for o in shown],
                "hovertemplate": "%{text}<extra></extra>",
            }
        )
    figure = {
        "data": data,
        "layout": charts.layout(
            height=320,
            y_title="Units",
            xaxis={
                "type": "date",
                # From the first value inside the window: a SKU first seen an hour ago draws no empty day.
                "range": [_local(min(start, until - dt.timedelta(hours=1)), zone), _local(until, zone)],
                "gridcolor": "#eef1f5",
                "linecolor": "#dde3ea",
            },
        ),
    }
    return SkuHistory(figure=figure, has_data=any(trace["mode"] == "lines" for trace in data), count_events=len(events))


def _local(at: dt.datetime, zone: dt.tzinfo) -> str:
    """Wall-clock time in the location's zone without an offset: plotly.js would otherwise show UTC."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def sku_discrepancy_list(*, location: Location, sku: str) -> list[Discrepancy]:
    """The key's discrepancies, open ones first, then the latest closed (one query)."""
    return list(
        Discrepancy.objects.filter(location=location, sku=sku).order_by(
            F("closed_at").desc(nulls_first=True), "-opened_at"
        )[:LIST_LIMIT]
    )


def sku_oversell_list(*, location: Location, sku: str) -> list[Oversell]:
    """The key's oversells, latest first (one query)."""
    return list(Oversell.objects.filter(location=location, sku=sku).order_by("-ordered_at")[:LIST_LIMIT])


@dataclasses.dataclass(frozen=True, slots=True)
class Belief:
    """What one system believed at T, as reconciliation compares it."""

    role: str
    label: str
    position: reconciliation_selectors.PositionAt | None


def belief_at(*, location: Location, sku: str, at: dt.datetime) -> dict[str, Any]:
    """What WMS, ERP and storefront believed about the key at `at`, and what was true (the WMS's)."""
    found = reconciliation_selectors.position_at(location_id=location.pk, sku=sku, at=at)
    beliefs = [Belief(role, label, found.get(role)) for role, label in SYSTEMS]
    truth = found.get("truth")
    shown = found.get(Role.STOREFRONT)
    erp = found.get(Role.ERP)
    return {
        "at": at,
        "beliefs": beliefs,
        "truth": truth,
        "phantom": max(0, shown.comparable - truth.comparable) if shown and truth else None,
        "erp_gap": erp.comparable - truth.comparable if erp and truth else None,
    }
