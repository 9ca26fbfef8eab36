from __future__ import annotations

from django.contrib import admin

from inventory_hub.core.admin import ReadOnlyAdmin, ReadOnlyInline
from inventory_hub.observations.models import (
    InventoryEvent,
    InventoryPosition,
    Order,
    OrderLine,
    PositionChange,
)


@admin.register(InventoryPosition)
class InventoryPositionAdmin(ReadOnlyAdmin):
    list_display = [
        "sku",
        "location",
        "bin",
        "connector",
        "on_hand",
        "allocated",
        "available",
        "incoming",
        "as_of",
        "observed_at",
    ]
    list_filter = ["connector__role", "connector", "location"]
    search_fields = ["=sku", "bin"]
    list_select_related = ["connector", "location"]
    date_hierarchy = "observed_at"


@admin.register(PositionChange)
class PositionChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "changed_at",
        "sku",
        "location",
        "bin",
        "connector",
        "on_hand",
        "allocated",
        "available",
        "incoming",
        "poll_run",
    ]
    list_filter = ["connector__role", "connector", "location"]
    search_fields = ["=sku"]
    list_select_related = ["connector", "location"]
    date_hierarchy = "changed_at"


@admin.register(InventoryEvent)
class InventoryEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "kind",
        "sku",
        "location",
        "bin",
        "delta",
        "quantity_after",
        "channel",
        "connector",
        "source_event_id",
    ]
    list_filter = ["kind", "connector", "location"]
    search_fields = ["=sku", "=source_event_id"]
    list_select_related = ["connector", "location"]
    date_hierarchy = "occurred_at"


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["source_line_id", "sku", "location", "quantity"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["placed_at", "name", "source_order_id", "channel", "connector", "observed_at"]
    list_filter = ["channel", "connector"]
    search_fields = ["=source_order_id", "name", "=lines__sku"]
    list_select_related = ["connector"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline]
