"""The retailer's model: locations, channels, pools, their boundaries and the allocation rules.

This is the hub's single source of truth for allocation rules and pool boundaries.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

code_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Use letters, digits, '-', '_' or '.' (no spaces).")


def validate_time_zone(value: str) -> None:
    """Accept only IANA zone names (e.g. 'Europe/Berlin')."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not an IANA time zone name, e.g. 'America/Chicago'.")


class Location(models.Model):
    """A physical site holding stock: a store, fulfillment center or distribution center."""

    class Kind(models.TextChoices):
        STORE = "store", "Store"
        FULFILLMENT_CENTER = "fulfillment_center", "Fulfillment center"
        DISTRIBUTION_CENTER = "distribution_center", "Distribution center"

    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["store", "fulfillment_center", "distribution_center"]),
                name="location_kind_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Channel(models.Model):
    """A sales channel the storefront sells through (web, marketplace, store pickup, …)."""

    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class FulfillmentMethod(models.TextChoices):
    SHIP = "ship", "Ship to customer"
    PICKUP = "pickup", "Store pickup"
    LOCAL_DELIVERY = "local_delivery", "Local delivery"


class Pool(models.Model):
    """A logical grouping of stock, scoped by location, channel or fulfillment method."""

    class Scope(models.TextChoices):
        LOCATION = "location", "Per location"
        CHANNEL = "channel", "Per channel"
        FULFILLMENT_METHOD = "fulfillment_method", "Per fulfillment method"

    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=30, choices=Scope.choices)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="pools")
    fulfillment_method = models.CharField(max_length=30, choices=FulfillmentMethod.choices, blank=True)
    locations = models.ManyToManyField(Location, related_name="pools", blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(scope="channel") | Q(channel__isnull=False),
                name="pool_channel_scope_has_channel",
                violation_error_message="A channel-scoped pool needs a channel.",
            ),
            models.CheckConstraint(
                condition=~Q(scope="fulfillment_method") | ~Q(fulfillment_method=""),
                name="pool_method_scope_has_method",
                violation_error_message="A fulfillment-method pool needs a fulfillment method.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PoolBoundary(models.Model):
    """How one connector's system draws a pool: which of its own locations and bins are in."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="boundaries")
    connector = models.ForeignKey("connectors.Connector", on_delete=models.CASCADE, related_name="pool_boundaries")
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["pool", "connector"]
        verbose_name_plural = "pool boundaries"
        constraints = [models.UniqueConstraint(fields=["pool", "connector"], name="pool_boundary_unique")]

    def __str__(self) -> str:
        return f"{self.pool} as drawn by {self.connector}"


class PoolBoundaryEntry(models.Model):
    """One of the connector's own location ids (and optionally one bin) in or out of a pool."""

    boundary = models.ForeignKey(PoolBoundary, on_delete=models.CASCADE, related_name="entries")
    external_location_id = models.CharField(max_length=255)
    bin = models.CharField(max_length=120, blank=True, help_text="Blank means every bin.")
    included = models.BooleanField(
        default=True, help_text="Untick to exclude, e.g. the quarantine bin of an included site."
    )

    class Meta:
        ordering = ["boundary", "external_location_id", "bin"]
        verbose_name_plural = "pool boundary entries"
        constraints = [
            models.UniqueConstraint(
                fields=["boundary", "external_location_id", "bin"],
                name="pool_boundary_entry_unique",
            )
        ]

    def __str__(self) -> str:
        where = f"{self.external_location_id}/{self.bin}" if self.bin else self.external_location_id
        return f"{'+' if self.included else '−'} {where}"


class AllocationRule(models.Model):
    """How a pool's stock may be promised to a channel; its values live in versions."""

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="allocation_rules")
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="allocation_rules",
        help_text="Blank: the rule applies to every channel of the pool.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pool", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["pool", "channel"], name="allocation_rule_unique"),
            # NULLs are distinct in a plain unique constraint; one pool-wide rule per pool.
            models.UniqueConstraint(
                fields=["pool"],
                condition=Q(channel__isnull=True),
                name="allocation_rule_one_pool_wide",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pool} · {self.channel or 'all channels'}"


class AllocationRuleVersion(models.Model):
    """One immutable version of an allocation rule's values, with who changed it, when and why."""

    rule = models.ForeignKey(AllocationRule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    safety_stock = models.PositiveIntegerField(default=0, help_text="Units held back from every promise.")
    channel_share_percent = models.PositiveSmallIntegerField(
        default=100,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of the pool's available stock this channel may promise.",
    )
    channel_priority = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="1 is served first."
    )
    pickup_reservation = models.PositiveIntegerField(default=0, help_text="Units reserved for store pickup orders.")
    effective_from = models.DateTimeField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the history still says who after the user is deleted.
    author_name = models.CharField(max_length=150)
    reason = models.TextField()
    created_at = models.DateTimeField()

    VALUE_FIELDS = ("safety_stock", "channel_share_percent", "channel_priority", "pickup_reservation")

    class Meta:
        ordering = ["rule", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="allocation_rule_version_unique"),
            models.CheckConstraint(
                condition=Q(channel_share_percent__gte=0) & Q(channel_share_percent__lte=100),
                name="allocation_rule_share_0_100",
            ),
            models.CheckConstraint(condition=Q(channel_priority__gte=1), name="allocation_rule_priority_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="allocation_rule_reason_given"),
        ]
        indexes = [models.Index(fields=["rule", "effective_from"], name="rule_version_effective")]

    def __str__(self) -> str:
        return f"{self.rule} v{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        # Old versions are history: an edit is a new version, never an update.
        if self.pk is not None:
            raise ValidationError("Allocation rule versions are immutable; create a new version.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class PoolChange(models.Model):
    """One edit of a pool's definition or of one system's boundary of it: who, when, why, old → new."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="changes")
    # Blank: the canonical pool was edited; otherwise the boundary this connector's system draws.
    connector = models.ForeignKey(
        "connectors.Connector", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What was edited, as text, so the history still reads after a connector is deleted.
    subject = models.CharField(max_length=200)
    # [[what, old, new], …]: old is null for an addition, new is null for a removal.
    changes = models.JSONField(default=list)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150)
    reason = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["pool", "-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="pool_change_reason_given")]
        indexes = [models.Index(fields=["pool", "-created_at"], name="pool_change_recent")]

    def __str__(self) -> str:
        return f"{self.subject} by {self.author_name} at {self.created_at:%Y-%m-%d %H:%M}"
