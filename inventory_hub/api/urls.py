"""/api/v1/: the router's endpoints, the OpenAPI 3 schema and its docs page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from inventory_hub.api import views

app_name = "api"


class HubRouter(DefaultRouter):
    """Any one path segment reaches the detail view (DRF's default refuses a "."), so an id that
    is no id gets the view's answer, a JSON 404 after the role check, not Django's HTML page."""

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        return f"(?P<{lookup_prefix}{lookup_url_kwarg}>[^/]+)"


router = HubRouter()
router.register("locations", views.LocationViewSet, basename="location")
router.register("connectors", views.ConnectorViewSet, basename="connector")
router.register("positions", views.PositionViewSet, basename="position")
router.register("discrepancies", views.DiscrepancyViewSet, basename="discrepancy")
router.register("oversells", views.OversellViewSet, basename="oversell")
router.register("pools", views.PoolViewSet, basename="pool")
router.register("pool-boundaries", views.PoolBoundaryViewSet, basename="pool-boundary")
router.register("allocation-rules", views.AllocationRuleViewSet, basename="allocation-rule")

# DRF's views are exempt from the site's login-redirect middleware (DRF authenticates API calls
# itself, tokens too); RolePermission refuses anyone without a role.
urlpatterns = [
    path("hop-lags/", views.HopLagView.as_view(), name="hop-lags"),
    path("expected-atp/", views.ExpectedAtpView.as_view(), name="expected-atp"),
    path("auth/token/", views.TokenObtainView.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs page is for people: an anonymous visitor is sent to log in, not given a 401.
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    *router.urls,
]
