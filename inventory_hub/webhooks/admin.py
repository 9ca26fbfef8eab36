from __future__ import annotations

from django.contrib import admin

from inventory_hub.webhooks.models import WebhookDelivery


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("received_at", "connector", "topic", "status", "delivery_id", "poll_run")
    list_filter = ("status", "connector", "topic")
    search_fields = ("delivery_id", "event_id")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False  # deliveries come from the senders only
