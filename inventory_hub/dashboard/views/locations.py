"""Location view: the cross-system grid per SKU, and one SKU's history across the three systems."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from inventory_hub.core import roles
from inventory_hub.dashboard.selectors import locations as selectors
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for
from inventory_hub.inventory.models import Location

GRID_PARTIALS = frozenset({"position-grid"})
SKU_PARTIALS = frozenset({"belief-at", "sku-history"})


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def location_detail(request: HtmxHttpRequest, location_id: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=location_id)
    now = timezone.now()
    filters = selectors.GridFilters.from_query(request.GET)
    grid = selectors.location_grid(location=location, filters=filters, now=now)
    return render(
        request,
        template_for(request, "dashboard/location_detail.html", GRID_PARTIALS),
        {"location": location, "grid": grid, "filters": filters, "now": now, "classes": grid.open_by_class},
    )


# An ISO time whose "+hh:mm" offset arrived unencoded in a query string, the "+" read as a space.
_PLUS_AS_SPACE = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+) (\d\d:?\d\d)$")


def _parse_at(value: str, location: Location) -> dt.datetime | None:
    """A datetime input's value: wall-clock time at the location unless it carries an offset."""
    value = _PLUS_AS_SPACE.sub(r"\1+\2", value.strip())
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=location.tzinfo)


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def sku_detail(request: HtmxHttpRequest, location_id: int, sku: str) -> HttpResponse:
    location = get_object_or_404(Location, pk=location_id)
    if not selectors.sku_exists(location=location, sku=sku):
        raise Http404("No system reports this SKU at this location.")
    now = timezone.now()
    target = request.htmx.target if request.htmx else None
    context: dict[str, Any] = {"location": location, "sku": sku, "now": now}
    status = 200

    if target in (None, "belief-at"):
        raw_at = request.GET.get("at", "")
        at = _parse_at(raw_at, location) if raw_at else now
        if at is None:
            context["at_error"] = "Enter a date and time, e.g. 2026-11-28 10:15."
            context["at_value"] = raw_at
            status = 422
        else:
            at = min(at, now)  # nothing is known about the future
            context["belief"] = selectors.belief_at(location=location, sku=sku, at=at)
            context["at_value"] = at.astimezone(location.tzinfo).strftime("%Y-%m-%dT%H:%M")

    if target in (None, "sku-history"):
        window = request.GET.get("window", "")
        window = window if window in selectors.SKU_WINDOWS else selectors.DEFAULT_SKU_WINDOW
        connectors, freshness = selectors.connectors_with_freshness(now=now)
        oversells = selectors.sku_oversell_list(location=location, sku=sku)
        context.update(
            window=window,
            windows={key: label for key, (_, label) in selectors.SKU_WINDOWS.items()},
            history=selectors.sku_history(
                location=location,
                sku=sku,
                connectors=connectors,
                since=now - selectors.SKU_WINDOWS[window][0],
                until=now,
                oversells=oversells,
            ),
        )
        if target is None:
            rows = selectors.grid_rows(location=location, skus=[sku], connectors=connectors, now=now)
            context.update(
                row=rows[0],
                freshness=freshness,
                oversells=oversells,
                discrepancies=selectors.sku_discrepancy_list(location=location, sku=sku),
            )
    return render(request, template_for(request, "dashboard/sku_detail.html", SKU_PARTIALS), context, status=status)


urlpatterns = [
    path("locations/<int:location_id>/", location_detail, name="location-detail"),
    path("locations/<int:location_id>/skus/<path:sku>/", sku_detail, name="sku-detail"),
]
