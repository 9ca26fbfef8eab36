"""The overview: one tile per location (exposure, open discrepancies, hop lags, connector health),
worst first, and how exposure moved over time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, OuterRef, Subquery

from inventory_hub.connectors.models import LocationMapping
from inventory_hub.connectors.selectors import ConnectorHealth
from inventory_hub.dashboard import charts
from inventory_hub.inventory.models import Location
from inventory_hub.reconciliation import exposure
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass, ExposureSample, Hop

SORTS = {
    "worst": "Worst first",
    "exposure": "Exposure",
    "discrepancies": "Open discrepancies",
    "lag": "Worst lag",
    "name": "Name",
}
DEFAULT_SORT = "worst"
LAG_WINDOW = dt.timedelta(hours=24)
# Windows of the exposure chart: query value → (length, label).
WINDOWS = {
    "6h": (dt.timedelta(hours=6), "6 h"),
    "24h": (dt.timedelta(hours=24), "24 h"),
    "7d": (dt.timedelta(days=7), "7 days"),
}
DEFAULT_WINDOW = "24h"
CHART_TOP = 5  # locations drawn one by one; the total line covers all of them
# Distinct from the system and class colours, so a location line is never read as a system.
LOCATION_COLOURS = ("#1f5fbf", "#ea580c", "#0891b2", "#be185d", "#65a30d")


@dataclasses.dataclass(frozen=True, slots=True)
class HopLag:
    """One hop's measured lag at a location (None when no change was measured in the window)."""

    hop: str
    label: str
    p95: float | None
    count: int


@dataclasses.dataclass(frozen=True, slots=True)
class LocationTile:
    """What the overview shows about one location."""

    location: Location
    exposure: int | None  # phantom units; None until a reconciliation has recorded them
    exposure_skus: int
    exposure_since: dt.datetime | None
    open_by_class: tuple[tuple[str, str, int], ...]  # (class, label, count), non-zero only, in class order
    open_total: int
    open_unexplained: int  # open and not in flight: past the hop's normal lag
    lags: tuple[HopLag, ...]
    connectors: tuple[ConnectorHealth, ...]  # the connectors that map one of their locations to it

    @property
    def worst_lag(self) -> float | None:
        measured = [lag.p95 for lag in self.lags if lag.p95 is not None]
        return max(measured) if measured else None

    @property
    def unhealthy_connectors(self) -> int:
        return sum(1 for item in self.connectors if item.state in ("failing", "never", "disabled"))


def _sort_key(sort: str) -> Any:
    def worst(t: LocationTile) -> tuple[Any, ...]:
        return (-(t.exposure or 0), -t.open_unexplained, -t.unhealthy_connectors, -(t.worst_lag or 0), t.location.code)

    keys = {
        "worst": worst,
        "exposure": lambda t: (t.exposure is None, -(t.exposure or 0), *worst(t)),
        "discrepancies": lambda t: (-t.open_total, -t.open_unexplained, *worst(t)),
        "lag": lambda t: (t.worst_lag is None, -(t.worst_lag or 0), *worst(t)),
        "name": lambda t: (t.location.name.lower(), t.location.code),
    }
    return keys.get(sort, worst)


def location_tile_list(*, sort: str, now: dt.datetime, connectors: Sequence[ConnectorHealth]) -> list[LocationTile]:
    """Every active location as a tile, sorted (four queries; `connectors` come from connector_health_list)."""
    latest = ExposureSample.objects.filter(location=OuterRef("pk")).order_by("-recorded_at")
    locations = list(
        Location.objects.filter(is_active=True).annotate(
            exposure_at=Subquery(latest.values("recorded_at")[:1]),
            exposure_units=Subquery(latest.values("phantom_units")[:1]),
            exposure_skus=Subquery(latest.values("skus")[:1]),
        )
    )
    if not locations:
        return []
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for location_id, classification, count in (
        Discrepancy.objects.filter(closed_at__isnull=True)
        .values_list("location_id", "classification")
        .annotate(n=Count("*"))  # COUNT(*): an index-only scan of the open partial index
        .order_by()
    ):
        counts[location_id][classification] = count
    stats = reconciliation_selectors.hop_lag_stats(window=LAG_WINDOW, now=now)
    health = {item.connector.pk: item for item in connectors}
    mapped: dict[int, set[int]] = defaultdict(set)
    for connector_id, location_id in (
        LocationMapping.objects.filter(location__isnull=False).values_list("connector_id", "location_id").distinct()
    ):
        mapped[location_id].add(connector_id)
    tiles = []
    for location in locations:
        by_class = counts.get(location.pk, {})
        lags = stats.get(location.pk, {})
        tiles.append(
            LocationTile(
                location=location,
                exposure=location.exposure_units,  # type: ignore[attr-defined]
                exposure_skus=location.exposure_skus or 0,  # type: ignore[attr-defined]
                exposure_since=location.exposure_at,  # type: ignore[attr-defined]
                open_by_class=tuple(
                    (value, label, by_class[value]) for value, label in DiscrepancyClass.choices if by_class.get(value)
                ),
                open_total=sum(by_class.values()),
                open_unexplained=sum(n for cls, n in by_class.items() if cls != DiscrepancyClass.IN_FLIGHT),
                lags=tuple(
                    HopLag(
                        hop=hop,
                        label=label,
                        p95=lags[hop]["p95"] if hop in lags else None,
                        count=int(lags[hop]["count"]) if hop in lags else 0,
                    )
                    for hop, label in HOP_LABELS
                ),
                connectors=tuple(
                    health[pk] for pk in sorted(mapped.get(location.pk, ()), key=_role_order(health)) if pk in health
                ),
            )
        )
    return sorted(tiles, key=_sort_key(sort))


HOP_LABELS = ((Hop.WMS_ERP, "WMS → ERP"), (Hop.ERP_STOREFRONT, "ERP → storefront"), (Hop.WMS_STOREFRONT, "End to end"))
ROLE_ORDER = {"wms": 0, "erp": 1, "storefront": 2}


def _role_order(health: dict[int, ConnectorHealth]) -> Any:
    return lambda pk: (
        (ROLE_ORDER.get(health[pk].connector.role, 9), health[pk].connector.name) if pk in health else (9, "")
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ExposureChart:
    figure: dict[str, Any]
    has_data: bool
    shown: int  # locations drawn one by one
    total_locations: int


def exposure_chart(*, window: str, now: dt.datetime, locations: Sequence[Location]) -> ExposureChart:
    """Phantom units over the window: the locations with the highest peak, one line each, and the total (two queries)."""
    length = WINDOWS.get(window, WINDOWS[DEFAULT_WINDOW])[0]
    since = now - length
    history = exposure.exposure_history(since=since, until=now)
    names = {location.pk: location for location in locations}
    history = {pk: steps for pk, steps in history.items() if pk in names}
    if not history:
        return ExposureChart(figure={}, has_data=False, shown=0, total_locations=0)
    peak = {pk: max(units for _, units in steps) for pk, steps in history.items()}
    top = sorted(history, key=lambda pk: (-peak[pk], -history[pk][-1][1], names[pk].code))[:CHART_TOP]
    data: list[dict[str, Any]] = []
    for colour, pk in zip(LOCATION_COLOURS, top, strict=False):
        steps = history[pk]
        data.append(
            _step_trace(
                name=names[pk].code,
                times=[at for at, _ in steps] + [now],
                values=[units for _, units in steps] + [steps[-1][1]],
                colour=colour,
            )
        )
    # The total: every location's latest value summed at each instant any of them changed.
    events = sorted((at, pk, units) for pk, steps in history.items() for at, units in steps)
    current: dict[int, int] = {}
    times: list[dt.datetime] = []
    totals: list[int] = []
    for at, pk, units in events:
        current[pk] = units
        if times and times[-1] == at:
            totals[-1] = sum(current.values())
        else:
            times.append(at)
            totals.append(sum(current.values()))
    total = _step_trace(
        name="All locations",
        times=[*times, now],
        values=[*totals, totals[-1]],
        colour=charts.SYSTEM_COLOURS["expected"],
    )
    total["line"]["dash"] = "dot"
    data.append(total)
    figure = {
        "data": data,
        "layout": charts.layout(
            height=260,
            y_title="Phantom units",
            xaxis={
                "type": "date",
                # From the first sample when recording began inside the window: no empty stretch.
                "range": [chart_time(times[0], dt.UTC), chart_time(now, dt.UTC)],
                "title": {"text": "UTC"},
                "gridcolor": "#eef1f5",
                "linecolor": "#dde3ea",
            },
        ),
    }
    return ExposureChart(figure=figure, has_data=True, shown=len(top), total_locations=len(history))


def chart_time(at: dt.datetime, zone: dt.tzinfo) -> str:
    """A wall-clock time in `zone` without offset: plotly.js drops offsets and would show UTC."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _step_trace(*, name: str, times: list[dt.datetime], values: list[int], colour: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": [chart_time(t, dt.UTC) for t in times],
        "y": values,
        "line": {"shape": "hv", "color": colour, "width": 2},
        "hovertemplate": f"{name}: %{{y}} units<extra></extra>",
    }
