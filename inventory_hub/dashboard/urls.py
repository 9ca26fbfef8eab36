from __future__ import annotations

from inventory_hub.dashboard.views import connectors, discrepancies, locations, oversells, overview, pools, rules

app_name = "dashboard"

# Each page module owns its routes; the URL names are what templates and tests reverse.
urlpatterns = [
    *overview.urlpatterns,
    *locations.urlpatterns,
    *discrepancies.urlpatterns,
    *oversells.urlpatterns,
    *pools.urlpatterns,
    *rules.urlpatterns,
    *connectors.urlpatterns,
]
