"""Discrepancies: two systems disagreeing about (location, SKU) across one hop."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Hop(models.TextChoices):
    """A sync relationship between two systems."""

    WMS_ERP = "wms_erp", "WMS → ERP"
    ERP_STOREFRONT = "erp_storefront", "ERP → storefront"
    WMS_STOREFRONT = "wms_storefront", "WMS → storefront (end to end)"


class DiscrepancyClass(models.TextChoices):
    IN_FLIGHT = "in_flight", "In flight"
    STALE = "stale", "Stale"
    BOUNDARY = "boundary", "Boundary"
    RULE = "rule", "Rule"
    DRIFT = "drift", "Drift"


class Discrepancy(models.Model):
    """Two systems disagree on the comparable quantity of (location, SKU) across one hop."""

    # No index of its own: discrepancy_location_sku starts with it (each index costs every write).
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="discrepancies", db_index=False
    )
    sku = models.CharField(max_length=120)
    hop = models.CharField(max_length=20, choices=Hop.choices)
    classification = models.CharField(max_length=20, choices=DiscrepancyClass.choices)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    upstream_quantity = models.IntegerField(help_text="The upstream system's comparable quantity.")
    downstream_quantity = models.IntegerField(help_text="The downstream system's comparable quantity.")
    peak_gap = models.PositiveIntegerField(help_text="Largest absolute gap while open.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Indexed only where set (discrepancy_acknowledged_by): almost every row has none.
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    acknowledgement_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name_plural = "discrepancies"
        permissions = [("acknowledge_discrepancy", "Can acknowledge discrepancies")]
        constraints = [
            # Reconciliation re-runs upsert the open one; it can never be opened twice.
            models.UniqueConstraint(
                fields=["location", "sku", "hop"],
                condition=Q(closed_at__isnull=True),
                name="discrepancy_one_open_per_key",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("opened_at")),
                name="discrepancy_closes_after_opening",
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | ~Q(acknowledgement_note=""),
                name="discrepancy_ack_has_note",
            ),
        ]
        indexes = [
            # Open ones by location: a location's timeline newest first in index order, and the
            # counts by class from the index alone (classification last: SQLite has no INCLUDE).
            models.Index(
                fields=["location", "opened_at", "id", "classification"],
                condition=Q(closed_at__isnull=True),
                name="discrepancy_open_location",
            ),
            models.Index(fields=["location", "sku", "opened_at"], name="discrepancy_location_sku"),
            # The timeline lists newest first (opened_at, then id, descending): read in index order.
            models.Index(fields=["opened_at", "id"], name="discrepancy_opened_id"),
            # Deleting a user sets its acknowledgements to NULL: found here, without indexing every NULL.
            models.Index(
                fields=["acknowledged_by"],
                condition=Q(acknowledged_by__isnull=False),
                name="discrepancy_acknowledged_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_hop_display()} {self.sku}@{self.location_id} ({self.classification})"

    @property
    def gap(self) -> int:
        return self.downstream_quantity - self.upstream_quantity

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class HopLagSample(models.Model):
    """When one hop first reflected one WMS change of (location, SKU): one measured lag.

    Unique per (location, SKU, hop, WMS change time), so measuring again upserts the same row.
    """

    class Method(models.TextChoices):
        SOURCE_TIMESTAMP = "source_timestamp", "Source timestamp"
        VALUE_MATCH = "value_match", "Value match"
        SYNC = "sync", "Downstream sync"
        # Not lags (left out of the statistics): the downstream's number needed no sync.
        UNCHANGED = "unchanged", "Already shown"
        OWN_ORDER = "own_order", "Storefront's own order"

    # Methods whose samples say when, but do not measure a hop's lag.
    UNDATED_METHODS = (Method.UNCHANGED, Method.OWN_ORDER)

    location = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="+")
    sku = models.CharField(max_length=120)
    hop = models.CharField(max_length=20, choices=Hop.choices)
    wms_changed_at = models.DateTimeField(help_text="When the WMS changed (its own timestamp, on the hub's clock).")
    reflected_at = models.DateTimeField(
        null=True, blank=True, help_text="When the downstream first reflected it; empty while it has not."
    )
    lag_seconds = models.FloatField(null=True, blank=True)
    method = models.CharField(max_length=20, choices=Method.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "sku", "hop", "wms_changed_at"], name="hop_lag_sample_unique"),
            models.CheckConstraint(
                condition=Q(reflected_at__isnull=True, lag_seconds__isnull=True)
                | Q(reflected_at__isnull=False, lag_seconds__gte=0),
                name="hop_lag_sample_lag_when_reflected",
            ),
        ]
        indexes = [
            # "p50/p95/max per location and hop over a window"
            models.Index(fields=["location", "hop", "wms_changed_at"], name="hop_lag_location_hop_time"),
            models.Index(fields=["wms_changed_at"], name="hop_lag_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_hop_display()} {self.sku}@{self.location_id}: {self.lag_seconds}s"


class ExposureSample(models.Model):
    """The phantom units at one location from `recorded_at` on (written only when they changed).

    Recorded, not recomputed: phantom units at a past instant would need every key's WMS and
    storefront history folded to that instant (the largest table, read in full), and even "now"
    is an aggregate over all of a location's positions. One small row per location whenever a
    reconciliation of its keys changed the figure makes both the overview's tile and its chart
    an index read (see reconciliation.exposure).
    """

    location = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="+")
    recorded_at = models.DateTimeField()
    phantom_units = models.PositiveIntegerField(
        help_text="Σ over SKUs of max(0, storefront available − WMS comparable)."
    )
    skus = models.PositiveIntegerField(help_text="SKUs with phantom units.")

    class Meta:
        constraints = [
            # Recording again for the same instant (a re-run task) is a no-op.
            models.UniqueConstraint(fields=["location", "recorded_at"], name="exposure_sample_unique"),
        ]
        indexes = [models.Index(fields=["recorded_at"], name="exposure_sample_time")]

    def __str__(self) -> str:
        return f"{self.phantom_units} phantom units @{self.location_id} from {self.recorded_at:%Y-%m-%d %H:%M}"
