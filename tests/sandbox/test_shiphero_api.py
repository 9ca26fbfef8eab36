"""The sandbox's ShipHero GraphQL API: real shapes, real schema, paging, auth and the credit bucket."""

from __future__ import annotations

import base64
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType, GraphQLSchema, build_schema, parse, validate

from inventory_hub.sandbox.http import Request
from inventory_hub.sandbox.shiphero import SCHEMA_PATH, ShipHeroApi
from tests.sandbox.worlds import small_world

REAL_SDL = Path(__file__).parents[1] / "fixtures" / "shiphero" / "shiphero_public_api_2022-04.reconstructed.graphql"
TOKEN = "Bearer shiphero-sandbox-token"

WAREHOUSE_PRODUCTS = """
query WarehouseStock($warehouseId: String, $sku: String, $first: Int!, $after: String) {
  warehouse_products(warehouse_id: $warehouseId, sku: $sku, active: true) {
    request_id
    complexity
    data(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          id legacy_id sku warehouse_id warehouse_identifier on_hand allocated available backorder
          reserve_inventory non_sellable_quantity created_at updated_at
          locations(first: 20) { edges { node { location { name } quantity } } }
        }
      }
    }
  }
}
"""
INVENTORY_CHANGES = """
query Changes($from: ISODateTime, $to: ISODateTime, $first: Int, $after: String) {
  inventory_changes(date_from: $from, date_to: $to) {
    request_id complexity
    data(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { sku warehouse_id previous_on_hand change_in_on_hand reason cycle_counted
                     location_id created_at location { name } } }
    }
  }
}
"""
WAREHOUSES = "query { account { request_id complexity data { id legacy_id warehouses { id legacy_id identifier } } } }"
ANALYZE = (
    "query { warehouse_products(analyze: true) { request_id complexity data(first: 100) { edges { node { sku } } } } }"
)
DOCUMENTS = [WAREHOUSE_PRODUCTS, INVENTORY_CHANGES, WAREHOUSES, ANALYZE]


@functools.cache
def real_schema() -> GraphQLSchema:
    return build_schema(REAL_SDL.read_text())


def post(
    api: ShipHeroApi, query: str, variables: dict[str, Any] | None = None, token: str | None = TOKEN
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": token} if token else {}
    response = api.handle(
        Request.build(
            "POST",
            "/graphql",
            headers=headers,
            body=json.dumps({"query": query, "variables": variables or {}}).encode(),
        )
    )
    return response.status, json.loads(response.body)


def walk(api: ShipHeroApi, query: str, root: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
    nodes, after = [], None
    while True:
        status, body = post(api, query, {**variables, "after": after})
        assert status == 200, body
        page = body["data"][root]["data"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_document_the_tests_send_is_valid_on_the_real_shiphero_schema(document):
    errors = validate(real_schema(), parse(document))

    assert errors == []


DOCS_DELTAS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "shiphero" / "shiphero_docs_deltas_2026.json").read_text()
)


def test_the_served_subset_has_the_real_schemas_types_fields_and_signatures():
    subset = build_schema(SCHEMA_PATH.read_text())

    for name, subset_type in subset.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "Float", "ID", "BigInt"}:
            continue
        real_type = real_schema().type_map[name]
        assert type(real_type) is type(subset_type), name
        if not isinstance(subset_type, GraphQLObjectType):
            continue
        added_since_2022 = DOCS_DELTAS["types"].get(name, {}).get("added", {})
        for field_name, field in subset_type.fields.items():
            if field_name in added_since_2022:  # only what the current schema reference adds
                assert str(field.type) == added_since_2022[field_name], f"{name}.{field_name}"
                continue
            real_field = real_type.fields[field_name]
            assert str(field.type) == str(real_field.type), f"{name}.{field_name}"
            assert {a: (str(arg.type), arg.default_value) for a, arg in field.args.items()} == {
                a: (str(arg.type), arg.default_value) for a, arg in real_field.args.items()
            }, f"{name}.{field_name}"


def test_warehouse_products_answers_the_documented_envelope_and_node():
    api = ShipHeroApi(small_world(), clock=lambda: 0.0)

    status, body = post(
        api, WAREHOUSE_PRODUCTS, {"warehouseId": "V2FyZWhvdXNlOjc2NzMz", "sku": "SKU-0001", "first": 10}
    )

    assert status == 200
    result = body["data"]["warehouse_products"]
    assert re.fullmatch(r"[0-9a-f]{24}", result["request_id"])
    assert result["complexity"] == 1 + 10 * 20
    assert result["data"] == {
        "pageInfo": {"hasNextPage": False, "endCursor": "YXJyYXljb25uZWN0aW9uOjA="},
        "edges": [
            {
                "cursor": "YXJyYXljb25uZWN0aW9uOjA=",
                "node": {
                    "id": base64.b64encode(b"WarehouseProduct:1").decode(),
                    "legacy_id": 1,
                    "sku": "SKU-0001",
                    "warehouse_id": "V2FyZWhvdXNlOjc2NzMz",
                    "warehouse_identifier": "Fulfillment Center",
                    "on_hand": 42,
                    "allocated": 1,
                    "available": 39,
                    "backorder": 0,
                    "reserve_inventory": 1,
                    "non_sellable_quantity": 1,
                    "created_at": "2026-11-02T08:00:00+00:00",
                    "updated_at": "2026-11-02T08:01:00+00:00",
                    "locations": {
                        "edges": [
                            {"node": {"location": {"name": "A-01"}, "quantity": 41}},
                            {"node": {"location": {"name": "QUARANTINE"}, "quantity": 1}},
                        ]
                    },
                },
            }
        ],
    }


@pytest.mark.parametrize("page_size", [1, 2])
def test_warehouse_products_pages_walk_every_product_exactly_once(page_size):
    world = small_world(skus=5)
    api = ShipHeroApi(world, clock=lambda: 0.0)

    nodes = walk(api, WAREHOUSE_PRODUCTS, "warehouse_products", {"first": page_size})

    assert sorted(n["legacy_id"] for n in nodes) == sorted(p.legacy_id for p in world.wms_products.values())
    assert len(nodes) == 10


def test_bin_quantities_sum_to_on_hand_for_every_product():
    world = small_world()
    api = ShipHeroApi(world, clock=lambda: 0.0)

    nodes = walk(api, WAREHOUSE_PRODUCTS, "warehouse_products", {"first": 100})

    assert [sum(e["node"]["quantity"] for e in n["locations"]["edges"]) for n in nodes] == [n["on_hand"] for n in nodes]
    assert [n["on_hand"] for n in nodes] == [
        p.on_hand for p in sorted(world.wms_products.values(), key=lambda p: p.legacy_id)
    ]


def test_warehouse_products_filters_by_warehouse_id():
    api = ShipHeroApi(small_world(), clock=lambda: 0.0)

    nodes = walk(api, WAREHOUSE_PRODUCTS, "warehouse_products", {"warehouseId": "V2FyZWhvdXNlOjc2NzM0", "first": 10})

    assert [(n["sku"], n["warehouse_identifier"]) for n in nodes] == [
        ("SKU-0001", "Store B"),
        ("SKU-0002", "Store B"),
        ("SKU-0003", "Store B"),
    ]


@pytest.mark.parametrize("page_size", [1, 2])
def test_inventory_changes_pages_walk_every_change_once_in_created_order(page_size):
    world = small_world()
    api = ShipHeroApi(world, clock=lambda: 0.0)

    nodes = walk(api, INVENTORY_CHANGES, "inventory_changes", {"first": page_size})

    assert [n["created_at"] for n in nodes] == [
        f"2026-11-02T{8 + m // 60:02d}:{m % 60:02d}:00+00:00" for m in range(10, 70, 10)
    ]
    assert [n["change_in_on_hand"] for n in nodes] == [c.change_in_on_hand for c in world.wms_changes]


def test_inventory_changes_date_from_is_inclusive_and_date_to_exclusive():
    api = ShipHeroApi(small_world(), clock=lambda: 0.0)

    nodes = walk(
        api,
        INVENTORY_CHANGES,
        "inventory_changes",
        {"from": "2026-11-02T08:20:00+00:00", "to": "2026-11-02T08:40:00Z", "first": 10},
    )

    assert [(n["created_at"], n["sku"], n["location"]["name"]) for n in nodes] == [
        ("2026-11-02T08:20:00+00:00", "SKU-0002", "A-01"),
        ("2026-11-02T08:30:00+00:00", "SKU-0003", "A-01"),
    ]


def test_account_lists_the_warehouses_with_shipheros_base64_ids():
    api = ShipHeroApi(small_world(), clock=lambda: 0.0)

    status, body = post(api, WAREHOUSES)

    assert status == 200
    assert body["data"]["account"]["complexity"] == 1
    assert body["data"]["account"]["data"]["warehouses"] == [
        {"id": "V2FyZWhvdXNlOjc2NzMz", "legacy_id": 76733, "identifier": "Fulfillment Center"},
        {"id": "V2FyZWhvdXNlOjc2NzM0", "legacy_id": 76734, "identifier": "Store B"},
    ]


@pytest.mark.parametrize("token", ["Bearer wrong-token", "shiphero-sandbox-token", None])
def test_a_wrong_or_missing_token_gets_401_without_spending_credits(token):
    api = ShipHeroApi(small_world(), clock=lambda: 0.0)

    status, body = post(api, WAREHOUSES, token=token)

    assert status == 401
    assert body["data"] is None
    assert [(e["code"], e["message"]) for e in body["errors"]] == [(401, "Invalid or expired access token")]
    assert api.bucket.remaining() == 4004.0


def test_running_out_of_credits_answers_shipheros_throttling_error_and_recovers_with_time():
    now = [0.0]
    api = ShipHeroApi(small_world(), credits=250.0, restore_rate=60.0, clock=lambda: now[0])
    variables = {"first": 10}  # 1 + 10 × 20 = 201 credits
    assert post(api, WAREHOUSE_PRODUCTS, variables)[0] == 200

    status, body = post(api, WAREHOUSE_PRODUCTS, variables)

    assert status == 200
    assert body["data"] == {"warehouse_products": None}
    [error] = body["errors"]
    assert {k: v for k, v in error.items() if k != "request_id"} == {
        "message": "There are not enough credits to perform the requested operation, which requires 201 credits. "
        "The account has 49 credits remaining. Please try again in 3 seconds",
        "operation": "warehouse_products",
        "field": "warehouse_products",
        "code": 30,
        "required_credits": 201,
        "remaining_credits": 49,
        "time_remaining": "3 seconds",
    }
    assert api.bucket.remaining() == 49.0
    now[0] = 2.0
    assert post(api, WAREHOUSE_PRODUCTS, variables)[1]["errors"][0]["time_remaining"] == "1 seconds"
    now[0] = 3.0
    status, body = post(api, WAREHOUSE_PRODUCTS, variables)
    assert status == 200
    assert body["data"]["warehouse_products"]["complexity"] == 201
    assert api.bucket.remaining() == 28.0


def test_a_page_of_100_costs_101_credits_and_analyze_prices_without_spending():
    api = ShipHeroApi(small_world(), clock=lambda: 0.0)

    status, body = post(api, ANALYZE)

    assert status == 200
    assert body["data"]["warehouse_products"]["complexity"] == 101
    assert body["data"]["warehouse_products"]["data"] is None
    assert api.bucket.remaining() == 4004.0


def test_a_query_outside_the_schema_is_refused_with_400():
    api = ShipHeroApi(small_world(), clock=lambda: 0.0)

    status, body = post(api, "query { warehouse_products { data { edges { node { no_such_field } } } } }")

    assert status == 400
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Cannot query field 'no_such_field' on type 'WarehouseProduct'."
    assert api.bucket.remaining() == 4004.0


def test_inventory_changes_carry_the_ids_the_current_schema_adds_for_deduplication():
    world = small_world()
    api = ShipHeroApi(world, clock=lambda: 0.0)
    query = "{ inventory_changes { data(first: 2) { edges { node { id legacy_id sku } } } } }"

    status, body = post(api, query)

    nodes = [edge["node"] for edge in body["data"]["inventory_changes"]["data"]["edges"]]
    assert status == 200
    assert [n["legacy_id"] for n in nodes] == [c.legacy_id for c in world.wms_changes[:2]]
    assert base64.b64decode(nodes[0]["id"]).decode() == f"InventoryChange:{world.wms_changes[0].legacy_id}"
