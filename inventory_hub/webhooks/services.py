"""Webhook intake: verify, store raw, de-duplicate, then have a poll read what the delivery announced.

A delivery is stored before it is acknowledged, so nothing a system sent is lost. It is applied
through the same pipeline as any poll: the delivery makes the connector poll now (incrementally),
and that poll reads the current state. So a late or out-of-order delivery can never overwrite
newer state with older numbers, and an order is mapped to its location exactly as a polled one
(Shopify's orders/create body has no fulfillment orders; its inventory_levels/update carries only
`available`, and real integrations refetch the level on receipt).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory_hub.connectors.models import Connector, PollRun
from inventory_hub.webhooks import verify
from inventory_hub.webhooks.models import WebhookDelivery

APPLY_TASK_NAME = "inventory_hub.webhooks.tasks.webhook_delivery_apply_task"
# A delivery triggered this long before the start of a poll that succeeded was read by that poll.
STALE_MARGIN = dt.timedelta(seconds=60)
MAX_QUANTITY = 2**31 - 1


@dataclasses.dataclass(frozen=True, slots=True)
class Provider:
    """How one product signs, names and identifies its deliveries."""

    adapter: str
    signature_headers: tuple[str, ...]
    topics: frozenset[str]  # the ones that announce a change the hub reads
    ack: Mapping[str, str]  # the body the sender expects with the 200

    def topic(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        if self.adapter == "shopify":
            return headers.get("X-Shopify-Topic", "")
        return str(payload.get("webhook_type", ""))

    def ids(self, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
        """(delivery id, event id)."""
        if self.adapter == "shopify":
            return headers.get("X-Shopify-Webhook-Id", ""), headers.get("X-Shopify-Event-Id", "")
        # ShipHero documents no delivery id header we can rely on: a resend carries the same bytes.
        return hashlib.sha256(body).hexdigest(), ""


PROVIDERS = {
    "shopify": Provider(
        adapter="shopify",
        # The newer "Events" deliveries drop the X- prefix.
        signature_headers=("X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256"),
        topics=frozenset({"inventory_levels/update", "orders/create"}),
        ack={},
    ),
    "shiphero": Provider(
        adapter="shiphero",
        signature_headers=("X-ShipHero-HMAC-SHA256",),
        topics=frozenset({"Inventory Update", "Inventory Change"}),
        ack={"code": "200", "Status": "Success"},  # what ShipHero expects back
    ),
}
KEPT_HEADERS = (
    "Content-Type",
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-API-Version",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Intake:
    """The HTTP answer to a delivery, and the stored row."""

    status_code: int
    body: Mapping[str, str]
    delivery: WebhookDelivery


def delivery_receive(
    *, connector: Connector, body: bytes, headers: Mapping[str, str], now: dt.datetime | None = None
) -> Intake:
    """Store one delivery and decide its fate; a poll is enqueued only for a new, current one."""
    now = now or timezone.now()
    provider = PROVIDERS[connector.adapter]
    header = next((headers[name] for name in provider.signature_headers if headers.get(name)), None)
    delivery_id, event_id = provider.ids(headers, body)
    stored = WebhookDelivery(
        connector=connector,
        delivery_id=delivery_id[:255] or hashlib.sha256(body).hexdigest(),
        event_id=event_id[:255],
        triggered_at=_datetime(headers.get("X-Shopify-Triggered-At")),
        received_at=now,
        headers={name: headers[name][:500] for name in KEPT_HEADERS if name in headers},
        body=body,
    )
    overlap = dt.timedelta(minutes=settings.WEBHOOK_SECRET_OVERLAP_MINUTES)
    if not verify.verified(body=body, header=header, credentials=connector.credentials, now=now, overlap=overlap):
        why = "no signature header" if not header else "the signature does not match the connector's webhook secret"
        return _answer(stored, WebhookDelivery.Status.REJECTED, f"Unverified: {why}.", 401, {"detail": "Unverified."})
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _answer(
            stored, WebhookDelivery.Status.REJECTED, f"Not JSON: {exc}", 400, {"detail": "Body is not JSON."}
        )
    if not isinstance(payload, dict):
        return _answer(stored, WebhookDelivery.Status.REJECTED, "Not a JSON object.", 400, {"detail": "Not an object."})
    stored.topic = provider.topic(headers, payload)[:120]
    if stored.topic not in provider.topics:
        return _answer(stored, WebhookDelivery.Status.IGNORED, "The hub does not use this topic.", 200, provider.ack)
    problem = _payload_problem(stored.topic, payload)
    if problem:
        return _answer(stored, WebhookDelivery.Status.REJECTED, problem, 400, {"detail": problem})
    return _accept(stored, provider=provider)


def _accept(stored: WebhookDelivery, *, provider: Provider) -> Intake:
    """A verified delivery of a topic we use: duplicate, stale, or received (and a poll enqueued)."""
    if _seen_before(stored):
        return _answer(
            stored, WebhookDelivery.Status.DUPLICATE, "Seen before (same delivery or event id).", 200, provider.ack
        )
    covering = _covering_poll(stored)
    if covering is not None:
        stored.poll_run = covering
        return _answer(
            stored, WebhookDelivery.Status.STALE, f"Poll {covering.pk} already read this state.", 200, provider.ack
        )
    try:
        with transaction.atomic():
            intake = _answer(stored, WebhookDelivery.Status.RECEIVED, "", 200, provider.ack)
            transaction.on_commit(lambda: current_app.send_task(APPLY_TASK_NAME, args=[stored.pk]))
    except IntegrityError:  # the same delivery id arrived concurrently and was stored first
        stored.pk = None
        return _answer(stored, WebhookDelivery.Status.DUPLICATE, "Seen before (concurrent repeat).", 200, provider.ack)
    return intake


def _answer(stored: WebhookDelivery, status: str, reason: str, code: int, body: Mapping[str, str]) -> Intake:
    stored.status, stored.reason = status, reason
    stored.save()
    return Intake(status_code=code, body=body, delivery=stored)


def _seen_before(stored: WebhookDelivery) -> bool:
    counted = WebhookDelivery.objects.filter(connector=stored.connector).exclude(
        status__in=[WebhookDelivery.Status.DUPLICATE, WebhookDelivery.Status.REJECTED]
    )
    if counted.filter(delivery_id=stored.delivery_id).exists():
        return True
    return bool(stored.event_id) and counted.filter(event_id=stored.event_id).exists()


def _covering_poll(stored: WebhookDelivery) -> PollRun | None:
    """A succeeded poll that started after the event was triggered: it read the announced state (or newer)."""
    if stored.triggered_at is None:
        return None
    return (
        PollRun.objects.filter(
            connector=stored.connector,
            status=PollRun.Status.SUCCEEDED,
            started_at__gte=stored.triggered_at + STALE_MARGIN,
        )
        .order_by("started_at")
        .first()
    )


def _payload_problem(topic: str, payload: Mapping[str, Any]) -> str:
    """What is wrong with a payload of a topic we use, or "" (checked so garbage is a clear 400)."""
    if topic == "inventory_levels/update":
        for name in ("inventory_item_id", "location_id"):
            if not _whole(payload.get(name), low=1, high=2**63 - 1):
                return f"{name} must be a positive whole number."
        if (
            "available" in payload
            and payload["available"] is not None
            and not _whole(payload["available"], low=-MAX_QUANTITY, high=MAX_QUANTITY)
        ):
            return "available must be a whole number."
    elif topic == "orders/create":
        if not _whole(payload.get("id"), low=1, high=2**63 - 1):
            return "id must be a positive whole number."
    elif topic == "Inventory Update":
        if not isinstance(payload.get("inventory"), list):
            return "inventory must be a list."
    elif topic == "Inventory Change" and not isinstance(payload.get("sku"), str):
        return "sku must be a string."
    return ""


def _whole(value: Any, *, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


class PollBusyError(Exception):
    """Another poll of the connector is running; try again when it is done."""


def delivery_apply(*, delivery_id: int) -> PollRun | None:
    """Have a poll read what the delivery announced; mark every delivery that poll covers applied.

    Called by the task; a burst of deliveries coalesces: whichever poll starts after a delivery
    arrived covers it, so most tasks find their delivery already applied and do nothing.
    """
    from inventory_hub.observations import services as observation_services  # the poll pipeline

    delivery = WebhookDelivery.objects.select_related("connector").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.RECEIVED:
        return None
    covering = (
        PollRun.objects.filter(
            connector=delivery.connector_id, status=PollRun.Status.SUCCEEDED, started_at__gte=delivery.received_at
        )
        .order_by("started_at")
        .first()
    )
    if covering is not None:
        _mark_applied(connector_id=delivery.connector_id, run=covering)
        return covering
    if not delivery.connector.enabled:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(reason="Connector disabled: applied by its next poll.")
        return None
    run = observation_services.connector_poll(connector_id=delivery.connector_id, trigger=PollRun.Trigger.WEBHOOK)
    if run is None:
        raise PollBusyError(delivery.connector_id)
    if run.status == PollRun.Status.SUCCEEDED:
        _mark_applied(connector_id=delivery.connector_id, run=run)
    return run


def _mark_applied(*, connector_id: int, run: PollRun) -> int:
    return WebhookDelivery.objects.filter(
        connector_id=connector_id, status=WebhookDelivery.Status.RECEIVED, received_at__lte=run.started_at
    ).update(
        status=WebhookDelivery.Status.APPLIED, poll_run=run, applied_at=run.finished_at or timezone.now(), reason=""
    )


# Deliveries a poll has dealt with, or that were turned away: kept for the audit, then purged.
# A delivery still waiting for its poll (received) is never purged.
PURGEABLE = (
    WebhookDelivery.Status.APPLIED,
    WebhookDelivery.Status.DUPLICATE,
    WebhookDelivery.Status.STALE,
    WebhookDelivery.Status.IGNORED,
    WebhookDelivery.Status.REJECTED,
)


def deliveries_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None, batch: int = 5000) -> int:
    """Delete settled deliveries received longer ago than `older_than`; returns how many.

    In batches, so a busy store's month of deliveries never holds one long lock. A sender that
    replays a purged delivery later is simply taken as new: it costs one extra poll, nothing else.
    """
    cutoff = (now or timezone.now()) - older_than
    old = WebhookDelivery.objects.filter(received_at__lt=cutoff, status__in=PURGEABLE)
    removed = 0
    while ids := list(old.order_by().values_list("pk", flat=True)[:batch]):
        deleted, _ = WebhookDelivery.objects.filter(pk__in=ids).delete()
        removed += deleted
    return removed
