from __future__ import annotations

from django.contrib import admin

from inventory_hub.core.admin import ReadOnlyAdmin
from inventory_hub.reconciliation.models import Discrepancy


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("open", "Open"), ("closed", "Closed")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "open":
            return queryset.filter(closed_at__isnull=True)
        if self.value() == "closed":
            return queryset.filter(closed_at__isnull=False)
        return queryset


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = [
        "opened_at",
        "closed_at",
        "location",
        "sku",
        "hop",
        "classification",
        "upstream_quantity",
        "downstream_quantity",
        "peak_gap",
        "acknowledged_by",
    ]
    list_filter = [OpenFilter, "hop", "classification", "location"]
    search_fields = ["=sku"]
    list_select_related = ["location", "acknowledged_by"]
    date_hierarchy = "opened_at"
