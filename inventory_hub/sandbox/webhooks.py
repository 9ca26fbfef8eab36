"""The sandbox retailer's outbound webhooks, sent as Shopify and ShipHero send theirs.

After each advance of the simulation, every storefront level that changed becomes an
`inventory_levels/update` delivery (REST-style body, only `available`), every new order an
`orders/create`, and every WMS on-hand change a ShipHero "Inventory Change". Bodies are signed with
base64(HMAC-SHA256(secret, raw body)) in the products' own headers. Deliveries go out from one
background thread, so a slow receiver never holds the simulation back; like the real senders, a
delivery that fails is retried a few times and then dropped (polls and reconciliation repair it).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from inventory_hub.sandbox.world import World

logger = logging.getLogger(__name__)
API_VERSION = "2025-04"
RETRIES = 3


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: str


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class WebhookCollector:
    """Turns what changed in the world since the last call into signed deliveries."""

    def __init__(self, world: World, *, shopify: WebhookTarget | None, shiphero: WebhookTarget | None) -> None:
        self.world, self.shopify, self.shiphero = world, shopify, shiphero
        with world.lock:
            self.since = world.now
            self._orders_seen = len(world.shop_orders)
            self._changes_seen = len(world.wms_changes)

    def collect(self) -> list[Delivery]:
        with self.world.lock:
            now, since = self.world.now, self.since
            deliveries = self._shopify(since, now) + self._shiphero()
            self.since = now
        return deliveries

    def _shopify(self, since: dt.datetime, now: dt.datetime) -> list[Delivery]:
        world, target = self.world, self.shopify
        orders = world.shop_orders[self._orders_seen :]
        self._orders_seen = len(world.shop_orders)
        if target is None:
            return []
        deliveries = []
        for (code, sku), level in sorted(world.shop_levels.items()):
            if not since < level.updated_at <= now:
                continue
            location, item = world.locations[code], world.items[sku]
            payload = {
                "inventory_item_id": item.shopify_item_id,
                "location_id": location.shopify_id,
                "available": level.quantities["available"],
                "updated_at": _iso(level.updated_at),
                "admin_graphql_api_id": (
                    f"gid://shopify/InventoryLevel/{location.shopify_id}?inventory_item_id={item.shopify_item_id}"
                ),
            }
            event = f"level-{location.shopify_id}-{item.shopify_item_id}-{level.updated_at.timestamp():.0f}"
            deliveries.append(
                self._shopify_delivery(target, "inventory_levels/update", payload, event, level.updated_at)
            )
        for order in orders:
            payload = {
                "id": order.legacy_id,
                "admin_graphql_api_id": f"gid://shopify/Order/{order.legacy_id}",
                "name": order.name,
                "created_at": _iso(order.created_at),
                "source_name": order.channel,
                "line_items": [
                    {"id": line.legacy_id, "sku": line.sku, "quantity": line.quantity} for line in order.lines
                ],
            }
            deliveries.append(
                self._shopify_delivery(target, "orders/create", payload, f"order-{order.legacy_id}", order.created_at)
            )
        return deliveries

    def _shopify_delivery(
        self, target: WebhookTarget, topic: str, payload: dict[str, Any], event: str, at: dt.datetime
    ) -> Delivery:
        body = _body(payload)
        return Delivery(
            target.url,
            {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(target.secret, body),
                "X-Shopify-Shop-Domain": "sandbox-retailer.myshopify.com",
                "X-Shopify-API-Version": API_VERSION,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),  # a new id per delivery (and per retry)
                "X-Shopify-Event-Id": str(uuid.uuid5(uuid.NAMESPACE_URL, event)),  # the same across retries
                "X-Shopify-Triggered-At": _iso(at),
            },
            body,
        )

    def _shiphero(self) -> list[Delivery]:
        world, target = self.world, self.shiphero
        changes = world.wms_changes[self._changes_seen :]
        self._changes_seen = len(world.wms_changes)
        if target is None:
            return []
        deliveries = []
        for change in changes:
            location = world.locations[change.location]
            payload = {
                "webhook_type": "Inventory Change",
                "account_id": 63898,
                "warehouse_id": location.shiphero_id,
                "user_id": change.user_id,
                "sku": change.sku,
                "quantity": change.change_in_on_hand,
                "previous_on_hand": change.previous_on_hand,
                "location_name": change.bin,
                "timestamp": change.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "reason": change.reason,
                "source": "cycle_count" if change.cycle_counted else "api",
            }
            body = _body(payload)
            deliveries.append(
                Delivery(
                    target.url,
                    {"Content-Type": "application/json", "X-ShipHero-HMAC-SHA256": sign(target.secret, body)},
                    body,
                )
            )
        return deliveries


def post(delivery: Delivery, timeout: float = 10.0) -> int:
    request = urllib.request.Request(delivery.url, data=delivery.body, headers=delivery.headers, method="POST")  # noqa: S310 (loopback URL given by the operator)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class WebhookSender:
    """Collects after each advance and posts from one background thread."""

    def __init__(
        self,
        collector: WebhookCollector,
        *,
        send: Callable[[Delivery], int] = post,
        backoff: float = 1.0,
    ) -> None:
        self.collector, self._send, self._backoff = collector, send, backoff
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self.sent = self.failed = 0

    def start(self) -> None:
        self._thread.start()

    def after_advance(self) -> None:
        for delivery in self.collector.collect():
            self._queue.put(delivery)

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (delivery := self._queue.get()) is not None:
            for attempt in range(RETRIES):
                try:
                    status = self._send(delivery)
                except OSError as exc:
                    status = 0
                    logger.warning("webhook to %s failed: %s", delivery.url, exc)
                if 200 <= status < 300:
                    self.sent += 1
                    break
                time.sleep(self._backoff * (attempt + 1))
            else:
                self.failed += 1


class WebhookingSimulation:
    """A simulation whose every advance is followed by its webhooks (what the pacer drives)."""

    def __init__(self, simulation: Any, sender: WebhookSender) -> None:
        self.simulation, self.sender = simulation, sender
        self.world = simulation.world

    def advance_to(self, t: dt.datetime) -> None:
        self.simulation.advance_to(t)
        self.sender.after_advance()
