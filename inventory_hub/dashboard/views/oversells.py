"""Oversells and their traces: the list, and one trace as a waterfall."""

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
    path("oversells/", placeholder, name="oversell-list"),
    path("oversells/<int:oversell_id>/", placeholder, name="oversell-detail"),
]
