"""Connectors (external system instances), their location mappings and poll runs."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from inventory_hub.core.fields import EncryptedJSONField


class Role(models.TextChoices):
    """Which of the three records a connector's system keeps."""

    WMS = "wms", "WMS"
    ERP = "erp", "ERP"
    STOREFRONT = "storefront", "Storefront"


class Product(models.TextChoices):
    """The products the hub has (or will have) an adapter for; the registry says which are installed."""

    SHOPIFY = "shopify", "Shopify"
    ERPNEXT = "erpnext", "ERPNext"
    SHIPHERO = "shiphero", "ShipHero"
    ODOO = "odoo", "Odoo"
    INVENTREE = "inventree", "InvenTree"
    CSV = "csv", "CSV file drop"


MIN_POLL_INTERVAL_SECONDS = 10


class Connector(models.Model):
    """One external system instance the hub polls, with its role, adapter and secrets."""

    name = models.CharField(max_length=120, unique=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    adapter = models.CharField(max_length=30, choices=Product.choices)
    base_url = models.URLField(max_length=500)
    # Secrets (tokens, key/secret pairs) as one encrypted JSON object; never shown back.
    credentials = EncryptedJSONField(blank=True, default=dict)
    # Non-secret adapter settings (API version, page size, …).
    options = models.JSONField(blank=True, default=dict)
    poll_interval_seconds = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(MIN_POLL_INTERVAL_SECONDS)]
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # When the fan-out next enqueues a poll; NULL means "as soon as possible".
    next_poll_at = models.DateTimeField(null=True, blank=True)
    # Where each history stream ("events", "orders") resumes, and when the last positions read and
    # the last full one started ("positions", "positions_full"); advanced only when a poll is stored.
    cursors = models.JSONField(blank=True, default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["role", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=["wms", "erp", "storefront"]), name="connector_role_valid"),
            models.CheckConstraint(
                condition=Q(poll_interval_seconds__gte=MIN_POLL_INTERVAL_SECONDS),
                name="connector_poll_interval_min",
            ),
            models.CheckConstraint(
                condition=Q(enabled=True) | ~Q(disabled_reason=""),
                name="connector_disabled_has_reason",
                violation_error_message="Say why the connector is disabled.",
            ),
        ]
        indexes = [models.Index(fields=["next_poll_at"], condition=Q(enabled=True), name="connector_due_enabled")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()}, {self.get_adapter_display()})"


class LocationMapping(models.Model):
    """A connector's own location id (Shopify location gid, ERPNext warehouse, …) → hub location."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="location_mappings")
    external_id = models.CharField(max_length=255)
    external_name = models.CharField(max_length=255, blank=True)
    # NULL: seen in the system but not mapped; its stock is counted as unmapped, not dropped silently.
    location = models.ForeignKey(
        "inventory.Location",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="location_mappings",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connector", "external_id"]
        constraints = [models.UniqueConstraint(fields=["connector", "external_id"], name="location_mapping_unique")]

    def __str__(self) -> str:
        target = self.location.code if self.location_id else "unmapped"
        return f"{self.connector.name}: {self.external_id} → {target}"


class PollRun(models.Model):
    """One poll of one connector: when, how it went, what it stored."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Poll now"
        BACKFILL = "backfill", "Backfill"
        WEBHOOK = "webhook", "Webhook"

    class ErrorKind(models.TextChoices):
        NONE = "", "—"
        TRANSIENT = "transient", "Transient (will retry)"
        PERMANENT = "permanent", "Permanent (connector disabled)"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="poll_runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    positions_seen = models.PositiveBigIntegerField(default=0)
    # False: only positions changed since the previous read were read, so none could vanish.
    positions_full_read = models.BooleanField(default=True)
    positions_changed = models.PositiveBigIntegerField(default=0)
    # Records at one of the system's locations that no LocationMapping maps to a hub location.
    records_unmapped = models.PositiveBigIntegerField(default=0)
    events_new = models.PositiveBigIntegerField(default=0)
    orders_new = models.PositiveBigIntegerField(default=0)
    fetch_seconds = models.FloatField(null=True, blank=True)
    store_seconds = models.FloatField(null=True, blank=True)
    error_kind = models.CharField(max_length=20, choices=ErrorKind.choices, blank=True, default="")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        constraints = [
            # The claim: at most one running poll per connector, across every worker process.
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(status="running"),
                name="poll_run_one_running_per_connector",
            ),
            models.CheckConstraint(
                condition=(Q(status="running") & Q(finished_at__isnull=True))
                | (~Q(status="running") & Q(finished_at__isnull=False)),
                name="poll_run_finished_iff_not_running",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["running", "succeeded", "failed"]),
                name="poll_run_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["connector", "-started_at"], name="poll_run_recent")]

    def __str__(self) -> str:
        return f"{self.connector.name} poll at {self.started_at:%Y-%m-%d %H:%M:%S} ({self.status})"

    @property
    def work_seconds(self) -> float | None:
        """Time spent fetching and storing (a backfill's wall-clock duration is simulated)."""
        if self.fetch_seconds is None or self.store_seconds is None:
            return None
        return self.fetch_seconds + self.store_seconds
