"""A simulated day, read back through the three HTTP APIs with httpx, equals the world exactly.

This is what the hub's adapters will do: page through every system over HTTP. Each row must
come back exactly once, with the simulation's own numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache

from inventory_hub.sandbox.scenario import load_scenario
from inventory_hub.sandbox.simulation import Simulation
from inventory_hub.sandbox.world import World
from inventory_hub.sandbox.wsgi import SandboxApp, sandbox_client


@cache
def _world() -> World:
    scenario = load_scenario("two-stores-and-an-fc")
    simulation = Simulation(scenario)
    simulation.advance_to(scenario.start + dt.timedelta(days=1))
    return simulation.world


LEVELS = """
query Levels($location: ID!, $after: String) {
  location(id: $location) {
    inventoryLevels(first: 50, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { item { sku } quantities(names: ["available", "committed", "on_hand"]) { name quantity } }
    }
  }
}
"""


def test_shopify_levels_paged_over_http_equal_the_storefronts_state():
    world = _world()
    seen = {}
    with sandbox_client(
        SandboxApp(world), "shopify", headers={"X-Shopify-Access-Token": world.credentials.shopify_access_token}
    ) as client:
        for location in world.locations.values():
            after = None
            while True:
                variables = {"location": f"gid://shopify/Location/{location.shopify_id}", "after": after}
                body = client.post(
                    "/admin/api/2025-04/graphql.json", json={"query": LEVELS, "variables": variables}
                ).json()
                page = body["data"]["location"]["inventoryLevels"]
                for node in page["nodes"]:
                    key = (location.code, node["item"]["sku"])
                    assert key not in seen
                    seen[key] = {q["name"]: q["quantity"] for q in node["quantities"]}
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]

    expected = {
        key: {name: level.quantities[name] for name in ("available", "committed", "on_hand")}
        for key, level in world.shop_levels.items()
    }
    assert seen == expected


PRODUCTS = """
query Stock($after: String) {
  warehouse_products {
    data(first: 40, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { sku warehouse_id on_hand allocated available } }
    }
  }
}
"""


def test_shiphero_warehouse_products_paged_over_http_equal_the_wms_state():
    world = _world()
    by_warehouse_id = {}
    seen = {}
    with sandbox_client(
        SandboxApp(world), "shiphero", headers={"Authorization": f"Bearer {world.credentials.shiphero_access_token}"}
    ) as client:
        after = None
        while True:
            body = client.post("/graphql", json={"query": PRODUCTS, "variables": {"after": after}}).json()
            page = body["data"]["warehouse_products"]["data"]
            for edge in page["edges"]:
                node = edge["node"]
                key = (node["warehouse_id"], node["sku"])
                assert key not in seen
                seen[key] = (node["on_hand"], node["allocated"], node["available"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        accounts = client.post(
            "/graphql", json={"query": "{ account { data { warehouses { id legacy_id } } } }"}
        ).json()
        for warehouse in accounts["data"]["account"]["data"]["warehouses"]:
            by_warehouse_id[warehouse["id"]] = world.location_by_shiphero_id(int(warehouse["legacy_id"])).code

    assert {(by_warehouse_id[w], sku): v for (w, sku), v in seen.items()} == {
        key: (p.on_hand, p.allocated, p.available) for key, p in world.wms_products.items()
    }


def test_erpnext_bins_and_ledger_paged_over_http_equal_the_erps_state():
    world = _world()
    auth = {"Authorization": f"token {world.credentials.erpnext_api_key}:{world.credentials.erpnext_api_secret}"}
    bins, ledger = {}, []
    with sandbox_client(SandboxApp(world), "erpnext", headers=auth) as client:
        start = 0
        while True:
            params = {
                "fields": json.dumps(["name", "item_code", "warehouse", "actual_qty", "reserved_qty"]),
                "order_by": "name asc",
                "limit_start": start,
                "limit_page_length": 50,
            }
            rows = client.get("/api/resource/Bin", params=params).json()["data"]
            for row in rows:
                assert row["name"] not in bins
                bins[row["name"]] = row
            if len(rows) < 50:
                break
            start += 50
        rows = client.get(
            "/api/resource/Stock Ledger Entry",
            params={"fields": json.dumps(["name", "qty_after_transaction"]), "limit_page_length": 0},
        ).json()["data"]
        ledger.extend(rows)

    warehouses = {loc.erp_warehouse: loc.code for loc in world.locations.values()}
    assert {
        (warehouses[r["warehouse"]], r["item_code"]): (r["actual_qty"], r["reserved_qty"]) for r in bins.values()
    } == {key: (b.actual_qty, b.reserved_qty) for key, b in world.erp_bins.items()}
    assert sorted(r["name"] for r in ledger) == sorted(e.name for e in world.erp_ledger)
