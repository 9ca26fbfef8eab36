"""Oversells and their traces back to the originating count event."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class RootCause(models.TextChoices):
    SYNC_WINDOW_WMS_ERP = "sync_window_wms_erp", "WMS → ERP sync window"
    SYNC_WINDOW_ERP_STOREFRONT = "sync_window_erp_storefront", "ERP → storefront sync window"
    CHANNEL_ALLOCATION = "channel_allocation", "Allocated to another channel"
    BOUNDARY_MISMATCH = "boundary_mismatch", "Pool boundary mismatch"
    RULE_DIVERGENCE = "rule_divergence", "Storefront applied other rules"
    STOREFRONT_OVERSOLD = "storefront_oversold", "Storefront sold more than it showed"


class Oversell(models.Model):
    """The storefront accepted an order line for more than the WMS had available then."""

    order_line = models.OneToOneField("observations.OrderLine", on_delete=models.CASCADE, related_name="oversell")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="oversells")
    sku = models.CharField(max_length=120)
    ordered_at = models.DateTimeField()
    quantity = models.PositiveIntegerField()
    shown = models.IntegerField(help_text="Storefront available at order time.")
    truth = models.IntegerField(help_text="WMS available at order time.")
    shortfall = models.PositiveIntegerField()
    root_cause = models.CharField(max_length=40, choices=RootCause.choices)
    originating_event = models.ForeignKey(
        "observations.InventoryEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="oversells",
    )
    explanation = models.TextField(blank=True)
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["-ordered_at"]
        constraints = [
            models.CheckConstraint(condition=Q(shortfall__gt=0), name="oversell_has_shortfall"),
            models.CheckConstraint(condition=Q(truth__lt=models.F("quantity")), name="oversell_truth_below_quantity"),
        ]
        indexes = [models.Index(fields=["location", "sku", "ordered_at"], name="oversell_location_sku")]

    def __str__(self) -> str:
        return f"Oversell of {self.quantity} × {self.sku}@{self.location_id} (short {self.shortfall})"


class TraceStep(models.Model):
    """One step of an oversell's trace, in order: count event → hops → shown → order → loop."""

    class Kind(models.TextChoices):
        COUNT_EVENT = "count_event", "Originating count event"
        SYNC = "sync", "Sync"
        MISSED_SYNC = "missed_sync", "Sync that missed the event"
        SHOWN = "shown", "Storefront showed"
        ORDER = "order", "Order"
        SHORTFALL = "shortfall", "Shortfall"
        CASCADE = "cascade", "Cascade-loop event"

    oversell = models.ForeignKey(Oversell, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    system = models.CharField(max_length=20, blank=True, help_text="wms, erp or storefront.")
    hop = models.CharField(max_length=20, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    lag_seconds = models.FloatField(null=True, blank=True)
    quantity = models.IntegerField(null=True, blank=True)
    event = models.ForeignKey(
        "observations.InventoryEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["oversell", "position"]
        constraints = [models.UniqueConstraint(fields=["oversell", "position"], name="trace_step_unique")]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"
