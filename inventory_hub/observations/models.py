"""What each system said: current positions, their change history, count events and orders.

Natural keys are unique in the database, so re-running a poll (at-least-once delivery) can only
upsert, never duplicate.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class InventoryPosition(models.Model):
    """What one system says now about one SKU at one location (and bin, where it has bins)."""

    connector = models.ForeignKey("connectors.Connector", on_delete=models.CASCADE, related_name="positions")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=120)
    # "" when the system reports the location as a whole; WMS bins otherwise (quarantine, …).
    bin = models.CharField(max_length=120, blank=True, default="")
    on_hand = models.IntegerField()
    allocated = models.IntegerField(default=0)
    available = models.IntegerField()
    incoming = models.IntegerField(default=0)
    as_of = models.DateTimeField(null=True, blank=True, help_text="The system's own timestamp.")
    observed_at = models.DateTimeField(help_text="When the hub saw this value.")
    changed_at = models.DateTimeField(help_text="When the hub first saw the current values.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connector", "location", "sku", "bin"], name="position_unique")]
        indexes = [models.Index(fields=["location", "sku"], name="position_location_sku")]

    def __str__(self) -> str:
        return f"{self.connector_id}:{self.location_id}:{self.sku}{'/' + self.bin if self.bin else ''}"


class PositionChange(models.Model):
    """History: a position's values from `changed_at` on; written only when a value changed.

    The largest table (a row per change per position). Rows are written only by the merge, from
    rows of InventoryPosition whose foreign keys the database checks; checking them again here
    (deferred, at commit) made a first ingest much slower, so here they are Django-level only.
    """

    connector = models.ForeignKey(
        "connectors.Connector", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    sku = models.CharField(max_length=120)
    bin = models.CharField(max_length=120, blank=True, default="")
    on_hand = models.IntegerField()
    allocated = models.IntegerField()
    available = models.IntegerField()
    incoming = models.IntegerField()
    as_of = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()
    poll_run = models.ForeignKey(
        "connectors.PollRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )

    class Meta:
        indexes = [
            # "What did this system believe about (location, SKU) at time T?"
            models.Index(fields=["location", "sku", "connector", "changed_at"], name="change_location_sku_time"),
            models.Index(fields=["changed_at"], name="change_time"),
        ]

    def __str__(self) -> str:
        return f"{self.sku}@{self.location_id} by {self.connector_id} at {self.changed_at:%Y-%m-%d %H:%M:%S}"


class EventKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    CYCLE_COUNT = "cycle_count", "Cycle count"
    ADJUSTMENT = "adjustment", "Adjustment / shrinkage"
    CHANNEL_ALLOCATION = "channel_allocation", "Channel allocation"
    PICK = "pick", "Pick / ship"
    TRANSFER = "transfer", "Transfer"
    SYNC_IMPORT = "sync_import", "Sync import"
    PUBLISH = "publish", "Publish"


class InventoryEvent(models.Model):
    """A change event reported by a system (a WMS count event, an ERP ledger entry, …)."""

    connector = models.ForeignKey("connectors.Connector", on_delete=models.CASCADE, related_name="events")
    source_event_id = models.CharField(max_length=255, help_text="The system's own id for the event.")
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=120)
    bin = models.CharField(max_length=120, blank=True, default="")
    channel = models.CharField(max_length=40, blank=True, help_text="For channel allocations.")
    delta = models.IntegerField()
    quantity_after = models.IntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    observed_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)
    poll_run = models.ForeignKey(
        "connectors.PollRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "source_event_id"], name="event_unique_source_id"),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "receipt",
                        "cycle_count",
                        "adjustment",
                        "channel_allocation",
                        "pick",
                        "transfer",
                        "sync_import",
                        "publish",
                    ]
                ),
                name="event_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["location", "sku", "occurred_at"], name="event_location_sku_time"),
            models.Index(fields=["occurred_at"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.delta:+d} {self.sku}@{self.location_id}"


class Order(models.Model):
    """A storefront order, as the storefront reported it."""

    connector = models.ForeignKey("connectors.Connector", on_delete=models.CASCADE, related_name="orders")
    source_order_id = models.CharField(max_length=255)
    name = models.CharField(max_length=120, blank=True, help_text="The order's display name, e.g. #1001.")
    channel = models.CharField(max_length=40, blank=True)
    placed_at = models.DateTimeField()
    observed_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)
    poll_run = models.ForeignKey(
        "connectors.PollRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-placed_at"]
        constraints = [models.UniqueConstraint(fields=["connector", "source_order_id"], name="order_unique_source_id")]
        indexes = [models.Index(fields=["placed_at"], name="order_placed")]

    def __str__(self) -> str:
        return self.name or self.source_order_id


class OrderLine(models.Model):
    """One SKU of an order, with the location it was to be fulfilled from."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    source_line_id = models.CharField(max_length=255)
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=120)
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "source_line_id"], name="order_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
        ]
        indexes = [models.Index(fields=["location", "sku"], name="order_line_location_sku")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"
