"""Overview: one tile per location, worst first, and how exposure moved."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from inventory_hub.connectors import selectors as connector_selectors
from inventory_hub.core import roles
from inventory_hub.dashboard.selectors import overview as selectors
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for
from inventory_hub.inventory import selectors as inventory_selectors

HOME_PARTIALS = frozenset({"connector-state", "location-tiles", "exposure-chart"})
TILES_SHOWN = 24


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def home(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    sort = request.GET.get("sort", "")
    sort = sort if sort in selectors.SORTS else selectors.DEFAULT_SORT
    window = request.GET.get("window", "")
    window = window if window in selectors.WINDOWS else selectors.DEFAULT_WINDOW
    target = request.htmx.target if request.htmx else None
    connectors = connector_selectors.connector_health_list()
    context: dict[str, Any] = {
        "now": now,
        "sort": sort,
        "sorts": selectors.SORTS,
        "window": window,
        "windows": {key: label for key, (_, label) in selectors.WINDOWS.items()},
        "connectors": connectors,
    }
    # Each partial reads only what it shows: the 30-second connector refresh reads no tiles.
    tiles = None
    if target in (None, "location-tiles"):
        tiles = selectors.location_tile_list(sort=sort, now=now, connectors=connectors)
        context["tiles"] = tiles
        # The worst first, a screenful of them: a hundred tiles are neither read nor fast to draw.
        context["show_all"] = request.GET.get("show") == "all" or len(tiles) <= TILES_SHOWN
        context["tiles_shown"] = tiles if context["show_all"] else tiles[:TILES_SHOWN]
        context["total_exposure"] = sum(tile.exposure or 0 for tile in tiles)
        context["total_open"] = sum(tile.open_total for tile in tiles)
    if target in (None, "exposure-chart"):
        locations = (
            [tile.location for tile in tiles] if tiles is not None else list(inventory_selectors.location_list())
        )
        context["chart"] = selectors.exposure_chart(window=window, now=now, locations=locations)
    return render(request, template_for(request, "dashboard/home.html", HOME_PARTIALS), context)


urlpatterns = [
    path("", home, name="home"),
]
