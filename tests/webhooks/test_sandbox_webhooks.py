"""The sandbox retailer sends its webhooks as Shopify and ShipHero do, and the hub takes them in:
the demo shows both paths (polls every interval, webhooks within seconds)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse

from inventory_hub.dashboard.demo import demo_retailer_create
from inventory_hub.sandbox.scenario import load_scenario
from inventory_hub.sandbox.simulation import Simulation
from inventory_hub.sandbox.webhooks import Delivery, WebhookCollector, WebhookSender, WebhookTarget
from inventory_hub.webhooks import services
from inventory_hub.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def test_an_hour_of_the_sandbox_arrives_as_verified_deliveries(monkeypatch):
    scenario = load_scenario("two-stores-and-an-fc")
    simulation = Simulation(scenario)
    connectors = demo_retailer_create(scenario=scenario, world=simulation.world, base_url="http://sandbox")
    secret = simulation.world.credentials.webhook_secret
    collector = WebhookCollector(
        simulation.world,
        shopify=WebhookTarget(reverse("webhooks:receive", args=["shopify", connectors["storefront"].pk]), secret),
        shiphero=WebhookTarget(reverse("webhooks:receive", args=["shiphero", connectors["wms"].pk]), secret),
    )
    simulation.advance_to(scenario.start + dt.timedelta(hours=1))
    monkeypatch.setattr(services.current_app, "send_task", lambda *args, **kwargs: None)
    client = Client()

    deliveries = collector.collect()
    statuses = [
        client.post(d.url, data=d.body, content_type="application/json", headers=d.headers).status_code
        for d in deliveries
    ]

    topics = {json.loads(d.body).get("webhook_type") or d.headers["X-Shopify-Topic"] for d in deliveries}
    assert topics == {"inventory_levels/update", "orders/create", "Inventory Change"}
    assert set(statuses) == {200}
    assert WebhookDelivery.objects.filter(status="received").count() == len(deliveries)
    assert collector.collect() == []  # nothing new until the world moves on


def test_the_sender_retries_a_failed_delivery_then_gives_up():
    attempts: list[str] = []

    def flaky(delivery: Delivery) -> int:
        attempts.append(delivery.url)
        return 503 if delivery.url == "/down" else 200

    class Fixed:
        def collect(self) -> list[Delivery]:
            return [Delivery("/down", {}, b"{}"), Delivery("/up", {}, b"{}")]

    sender = WebhookSender(Fixed(), send=flaky, backoff=0)  # type: ignore[arg-type]
    sender.start()
    sender.after_advance()
    sender.stop()

    assert (sender.sent, sender.failed) == (1, 1)
    assert attempts.count("/down") == 3
