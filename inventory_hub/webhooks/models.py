"""Webhook deliveries, stored raw before they are acknowledged (nothing a system sent is lost)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class WebhookDelivery(models.Model):
    """One HTTP delivery from a storefront or WMS, as received, and what became of it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (poll pending)"
        APPLIED = "applied", "Applied by a poll"
        DUPLICATE = "duplicate", "Duplicate (ignored)"
        STALE = "stale", "Stale (a later poll already read it)"
        IGNORED = "ignored", "Ignored (a topic the hub does not use)"
        REJECTED = "rejected", "Rejected"

    connector = models.ForeignKey("connectors.Connector", on_delete=models.CASCADE, related_name="webhook_deliveries")
    topic = models.CharField(max_length=120, blank=True)
    # The sender's id for this delivery (Shopify X-Shopify-Webhook-Id; ShipHero sends none we can
    # rely on, so the body's SHA-256) and for the event (Shopify X-Shopify-Event-Id: the same across
    # retries of one event). Both dedupe; the pages of Shopify's docs disagree on which to use.
    delivery_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True, help_text="When the sender says the event happened.")
    received_at = models.DateTimeField()
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(help_text="The raw request body, byte for byte (the signature covers these bytes).")
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.TextField(blank=True, help_text="Why it was rejected, ignored or is still pending.")
    poll_run = models.ForeignKey(
        "connectors.PollRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The poll that read the state this delivery announced.",
    )  # fmt: skip
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # Every delivery is stored, repeats too (marked duplicate); only one counts.
            models.UniqueConstraint(
                fields=["connector", "delivery_id"],
                condition=~Q(status__in=["duplicate", "rejected"]),
                name="webhook_delivery_counted_once",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["received", "applied", "duplicate", "stale", "ignored", "rejected"]),
                name="webhook_delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["connector", "event_id"], name="webhook_delivery_event"),
            models.Index(fields=["connector", "status", "received_at"], name="webhook_delivery_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.connector_id}:{self.topic}:{self.delivery_id} ({self.status})"
