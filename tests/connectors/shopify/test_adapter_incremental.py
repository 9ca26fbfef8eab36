"""Incremental position reads: `positions(changed_since=)` asks Shopify for the levels updated since."""

from __future__ import annotations

import datetime as dt

from inventory_hub.connectors.base import ConnectorConfig
from inventory_hub.connectors.shopify.adapter import ShopifyAdapter
from inventory_hub.sandbox.scenario import load_scenario
from inventory_hub.sandbox.shopify import ShopifyApi
from inventory_hub.sandbox.simulation import Simulation
from inventory_hub.sandbox.wsgi import SandboxApp, sandbox_transport
from tests.connectors.shopify.test_adapter import (
    BROOKLYN,
    LEVELS_P2,
    LOCATIONS,
    MANHATTAN,
    Clock,
    FakeShopify,
    Step,
    _adapter,
    _ok,
)

SEARCH = "updated_at:>='2026-11-02T09:58:30Z'"


def test_positions_changed_since_search_each_locations_levels_by_updated_at_in_utc():
    fake = FakeShopify(
        LOCATIONS,
        Step("LevelsAtLocation", {"locationId": BROOKLYN, "after": None, "query": SEARCH}, _ok("levels_page1.json")),
        Step("LevelsAtLocation", {**LEVELS_P2.variables, "query": SEARCH}, _ok("levels_page2.json")),
        Step(
            "LevelsAtLocation",
            {"locationId": MANHATTAN, "after": None, "query": SEARCH},
            _ok("levels_other_location.json"),
        ),
    )
    since = dt.datetime(2026, 11, 2, 10, 58, 30, 750_000, tzinfo=dt.timezone(dt.timedelta(hours=1)))

    pages = list(_adapter(fake, Clock()).positions(changed_since=since))

    assert ShopifyAdapter.reads_changed_positions is True
    assert [len(page.records) for page in pages] == [2, 1, 1]
    assert not fake.steps


def test_sandbox_positions_changed_since_are_the_levels_updated_since():
    scenario = load_scenario("two-stores-and-an-fc")
    sim = Simulation(scenario)
    sim.advance_to(scenario.start + dt.timedelta(hours=12))
    world = sim.world
    since = (world.now - dt.timedelta(hours=1)).replace(microsecond=0)
    clock = Clock()
    app = SandboxApp(world, apis={"shopify": ShopifyApi(world, clock=clock)})
    config = ConnectorConfig(
        name="Shopify",
        base_url="http://sandbox/shopify",
        credentials={"access_token": world.credentials.shopify_access_token},
    )
    adapter = ShopifyAdapter(config, transport=sandbox_transport(app), sleep=clock.sleep, clock=clock)

    records = [r for page in adapter.positions(changed_since=since) for r in page.records]

    changed = {key: level for key, level in world.shop_levels.items() if level.updated_at >= since}
    assert 0 < len(changed) < len(world.shop_levels)
    assert {(r.external_location_id, r.sku): (r.on_hand, r.available) for r in records} == {
        (f"gid://shopify/Location/{world.locations[code].shopify_id}", sku): (
            level.quantities["on_hand"],
            level.quantities["available"],
        )
        for (code, sku), level in changed.items()
    }
