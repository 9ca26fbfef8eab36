"""Overview: one tile per location, worst first, and how exposure moved."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from inventory_hub.connectors import selectors as connector_selectors
from inventory_hub.core import roles
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for
from inventory_hub.inventory import selectors as inventory_selectors

HOME_PARTIALS = frozenset({"connector-state"})


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def home(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        template_for(request, "dashboard/home.html", HOME_PARTIALS),
        {
            "locations": inventory_selectors.location_list(),
            "connectors": connector_selectors.connector_health_list(),
            "now": timezone.now(),
        },
    )


urlpatterns = [
    path("", home, name="home"),
]
