from __future__ import annotations

from django.contrib import admin

from inventory_hub.core.admin import ReadOnlyAdmin, ReadOnlyInline
from inventory_hub.tracing.models import Oversell, TraceStep


class TraceStepInline(ReadOnlyInline):
    model = TraceStep
    fields = ["position", "kind", "system", "hop", "occurred_at", "lag_seconds", "quantity", "detail"]
    show_change_link = False


@admin.register(Oversell)
class OversellAdmin(ReadOnlyAdmin):
    list_display = ["ordered_at", "location", "sku", "quantity", "shown", "truth", "shortfall", "root_cause"]
    list_filter = ["root_cause", "location"]
    search_fields = ["=sku"]
    list_select_related = ["location"]
    date_hierarchy = "ordered_at"
    inlines = [TraceStepInline]
