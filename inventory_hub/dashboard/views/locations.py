"""Location view: the cross-system grid per SKU, and one SKU's history across the three systems."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path

from inventory_hub.core import roles
from inventory_hub.dashboard.views.common import HtmxHttpRequest


# PLACEHOLDER (being built in this session): replaced by the page's real views.
@permission_required(roles.PERM_VIEW, raise_exception=True)
def placeholder(request: HtmxHttpRequest, **kwargs: object) -> HttpResponse:
    return render(request, "dashboard/_placeholder.html", {})


urlpatterns = [
    path("locations/<int:location_id>/", placeholder, name="location-detail"),
    path("locations/<int:location_id>/skus/<path:sku>/", placeholder, name="sku-detail"),
]
