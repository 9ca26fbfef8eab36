from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    parse,
    validate,
)

from inventory_hub.sandbox.http import Request
from inventory_hub.sandbox.shopify import ShopifyApi
from inventory_hub.sandbox.shopify.api import SCHEMA_PATH
from inventory_hub.sandbox.world import SHOPIFY_QUANTITY_NAMES
from tests.sandbox.worlds import small_world

REAL_SDL = Path(__file__).resolve().parent.parent / "fixtures" / "shopify" / "shopify_admin_2025-04.graphql"
TOKEN = "shpat_sandbox_token"
URL = "/admin/api/2025-04/graphql.json"
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}

LEVELS_AT_LOCATION = """
query LevelsAtLocation($locationId: ID!, $first: Int!, $cursor: String) {
  location(id: $locationId) {
    id
    name
    inventoryLevels(first: $first, after: $cursor) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id } }
      nodes {
        id
        updatedAt
        item { id sku tracked variant { id sku } }
        quantities(names: ["available", "on_hand", "committed", "reserved", "incoming", "damaged", "safety_stock", "quality_control"]) {
          name
          quantity
          updatedAt
        }
      }
    }
  }
}
"""

QUANTITIES_IN_ORDER = """
query Level($id: ID!) {
  inventoryLevel(id: $id) {
    id
    quantities(names: ["on_hand", "safety_stock", "available", "committed"]) { name quantity }
  }
}
"""

ORDERS = """
query Orders($first: Int!, $cursor: String, $query: String, $sortKey: OrderSortKeys, $reverse: Boolean) {
  orders(first: $first, after: $cursor, query: $query, sortKey: $sortKey, reverse: $reverse) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      name
      createdAt
      sourceName
      channelInformation { channelDefinition { handle } }
      lineItems(first: 10) { nodes { id sku quantity variant { id sku } } }
      fulfillmentOrders(first: 5) {
        nodes {
          assignedLocation { location { id } }
          lineItems(first: 10) { nodes { lineItem { id } } }
        }
      }
    }
  }
}
"""

LOCATIONS = "query { locations(first: 10) { nodes { id name isActive } } }"

ITEMS = """
query Items($query: String) {
  inventoryItems(first: 10, query: $query) {
    nodes {
      id
      sku
      tracked
      createdAt
      updatedAt
      variant { id sku }
      inventoryLevel(locationId: "gid://shopify/Location/71001") { id }
    }
  }
}
"""

UNKNOWN_FIELD = "query { locations(first: 1) { nodes { id warehouseCode } } }"

DOCUMENTS = [LEVELS_AT_LOCATION, QUANTITIES_IN_ORDER, ORDERS, LOCATIONS, ITEMS]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def real_schema() -> GraphQLSchema:
    return build_schema(REAL_SDL.read_text())


@pytest.fixture(scope="session")
def subset_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text())


def post(api: ShopifyApi, query: str, variables: dict | None = None, *, token: str | None = TOKEN, path: str = URL):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Shopify-Access-Token"] = token
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return api.handle(Request.build("POST", path, headers=headers, body=body))


def data_of(response) -> dict:
    payload = json.loads(response.body)
    assert response.status == 200
    assert "errors" not in payload, payload
    return payload["data"]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_test_document_is_valid_against_the_real_shopify_schema(real_schema, document):
    errors = validate(real_schema, parse(document))

    assert errors == []


def _signature(field) -> tuple:
    return (str(field.type), {name: (str(arg.type), arg.default_value) for name, arg in field.args.items()})


def test_subset_schema_types_and_fields_exist_in_the_real_schema_with_the_same_signatures(real_schema, subset_schema):
    mismatches = []

    for name, subset_type in subset_schema.type_map.items():
        if name.startswith("__"):
            continue
        real_type = real_schema.type_map.get(name)
        if real_type is None or type(real_type) is not type(subset_type):
            mismatches.append(name)
            continue
        if isinstance(subset_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in subset_type.fields.items():
                real_field = real_type.fields.get(field_name)
                if real_field is None or _signature(real_field) != _signature(field):
                    mismatches.append(f"{name}.{field_name}")
            real_interfaces = {i.name for i in real_type.interfaces}
            mismatches += [
                f"{name} implements {i.name}" for i in subset_type.interfaces if i.name not in real_interfaces
            ]
        elif isinstance(subset_type, GraphQLEnumType | GraphQLInputObjectType):
            members = subset_type.values if isinstance(subset_type, GraphQLEnumType) else subset_type.fields
            real_members = real_type.values if isinstance(real_type, GraphQLEnumType) else real_type.fields
            if set(members) != set(real_members):
                mismatches.append(name)

    assert mismatches == []
    assert subset_schema.query_type.name == real_schema.query_type.name == "QueryRoot"


@pytest.mark.parametrize("page_size", [1, 2])
def test_pagination_walks_every_level_of_a_location_exactly_once(page_size):
    api = ShopifyApi(small_world(skus=5))
    seen, cursor, pages = [], None, 0

    while True:
        variables = {"locationId": "gid://shopify/Location/71001", "first": page_size, "cursor": cursor}
        connection = data_of(post(api, LEVELS_AT_LOCATION, variables))["location"]["inventoryLevels"]
        seen += [node["id"] for node in connection["nodes"]]
        assert [e["node"]["id"] for e in connection["edges"]] == [n["id"] for n in connection["nodes"]]
        assert connection["pageInfo"]["hasPreviousPage"] is (pages > 0)
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]

    assert seen == [f"gid://shopify/InventoryLevel/71001?inventory_item_id={30_000 + n}" for n in range(1, 6)]
    assert pages == -(-5 // page_size)


@pytest.mark.parametrize("page_size", [1, 2])
def test_pagination_walks_every_order_exactly_once(page_size):
    api = ShopifyApi(small_world())
    seen, cursor = [], None

    while True:
        connection = data_of(post(api, ORDERS, {"first": page_size, "cursor": cursor}))["orders"]
        seen += [node["id"] for node in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]

    assert seen == ["gid://shopify/Order/90001", "gid://shopify/Order/90002", "gid://shopify/Order/90003"]


def test_cursors_are_opaque_base64():
    api = ShopifyApi(small_world())

    variables = {"locationId": "gid://shopify/Location/71001", "first": 1}
    cursor = data_of(post(api, LEVELS_AT_LOCATION, variables))["location"]["inventoryLevels"]["pageInfo"]["endCursor"]

    assert json.loads(base64.b64decode(cursor)) == {"last_id": 30001, "last_value": 30001}


def test_quantities_come_back_in_the_order_asked_and_on_hand_is_the_sum_of_its_parts():
    api = ShopifyApi(small_world())
    level_id = "gid://shopify/InventoryLevel/71002?inventory_item_id=30002"

    level = data_of(post(api, QUANTITIES_IN_ORDER, {"id": level_id}))["inventoryLevel"]

    assert level["id"] == level_id
    assert level["quantities"] == [
        {"name": "on_hand", "quantity": 42},
        {"name": "safety_stock", "quantity": 1},
        {"name": "available", "quantity": 40},
        {"name": "committed", "quantity": 1},
    ]


def test_on_hand_equals_available_committed_reserved_damaged_safety_stock_and_quality_control_everywhere():
    api = ShopifyApi(small_world())
    parts = ("available", "committed", "reserved", "damaged", "safety_stock", "quality_control")

    nodes = data_of(post(api, LEVELS_AT_LOCATION, {"locationId": "gid://shopify/Location/71002", "first": 10}))
    levels = nodes["location"]["inventoryLevels"]["nodes"]

    assert len(levels) == 3
    for level in levels:
        quantities = {q["name"]: q["quantity"] for q in level["quantities"]}
        assert [q["name"] for q in level["quantities"]] == [
            "available",
            "on_hand",
            "committed",
            "reserved",
            "incoming",
            "damaged",
            "safety_stock",
            "quality_control",
        ]
        assert set(quantities) == set(SHOPIFY_QUANTITY_NAMES)
        assert quantities["on_hand"] == sum(quantities[p] for p in parts)


def test_an_unknown_quantity_name_is_an_error_and_nulls_the_level():
    api = ShopifyApi(small_world())
    query = '{ inventoryLevel(id: "gid://shopify/InventoryLevel/71001?inventory_item_id=30001") { quantities(names: ["available", "sellable"]) { name } } }'

    payload = json.loads(post(api, query).body)

    assert payload["data"] == {"inventoryLevel": None}
    assert payload["errors"][0]["path"] == ["inventoryLevel", "quantities"]
    assert payload["errors"][0]["extensions"] == {"code": "INVALID_QUANTITY_NAME"}
    assert "sellable" in payload["errors"][0]["message"]


@pytest.mark.parametrize("token", [None, "shpat_wrong", ""])
def test_a_wrong_or_missing_token_is_401_with_shopifys_body(token):
    api = ShopifyApi(small_world())
    available_before = api.bucket.available

    response = post(api, LOCATIONS, token=token)

    assert response.status == 401
    assert json.loads(response.body) == INVALID_TOKEN_BODY
    assert api.bucket.available == available_before


def test_an_unknown_field_is_200_with_an_undefined_field_error():
    api = ShopifyApi(small_world())

    response = post(api, UNKNOWN_FIELD)

    assert response.status == 200
    assert json.loads(response.body) == {
        "errors": [
            {
                "message": "Field 'warehouseCode' doesn't exist on type 'Location'",
                "locations": [{"line": 1, "column": 42}],
                "path": ["query", "locations", "nodes", "warehouseCode"],
                "extensions": {"code": "undefinedField", "typeName": "Location", "fieldName": "warehouseCode"},
            }
        ]
    }


def test_a_literal_of_the_wrong_type_is_an_argument_literals_incompatible_error():
    api = ShopifyApi(small_world())

    payload = json.loads(post(api, '{ locations(first: "ten") { nodes { id } } }').body)

    assert payload["errors"][0]["extensions"] == {
        "code": "argumentLiteralsIncompatible",
        "typeName": "Field",
        "argumentName": "first",
    }
    assert payload["errors"][0]["message"] == (
        "Argument 'first' on Field 'locations' has an invalid value (\"ten\"). Expected type 'Int'."
    )
    assert "data" not in payload


def test_a_page_size_over_250_is_an_error_without_data():
    api = ShopifyApi(small_world())

    payload = json.loads(post(api, "{ locations(first: 251) { nodes { id } } }").body)

    assert "data" not in payload
    assert payload["errors"][0]["path"] == ["locations"]
    assert "250" in payload["errors"][0]["message"]


def test_a_connection_without_first_or_last_is_an_error():
    api = ShopifyApi(small_world())

    payload = json.loads(post(api, "{ locations { nodes { id } } }").body)

    assert payload["errors"] == [
        {
            "message": "you must provide one of first or last",
            "locations": [{"line": 1, "column": 3}],
            "path": ["locations"],
        }
    ]


def test_a_query_over_1000_points_is_max_cost_exceeded_and_costs_nothing():
    api = ShopifyApi(small_world(), clock=FakeClock())
    query = "{ inventoryItems(first: 250) { nodes { id inventoryLevels(first: 10) { nodes { id } } } } }"

    payload = json.loads(post(api, query).body)

    assert "data" not in payload
    assert payload["errors"][0]["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 3252, "maxCost": 1000}
    assert payload["errors"][0]["message"].startswith(
        "Query cost is 3252, which exceeds the single query max cost limit (1000)."
    )
    assert api.bucket.available == 2000.0


def test_cost_extensions_are_on_every_success_and_only_the_actual_cost_is_deducted():
    clock = FakeClock()
    api = ShopifyApi(small_world(), clock=clock)

    first = json.loads(post(api, ORDERS, {"first": 5}).body)
    second = json.loads(post(api, LOCATIONS).body)

    # Per order: 1 + channelInformation 1 + channelDefinition 1 + lineItems (2 + 10 × 2)
    # + fulfillmentOrders (2 + 5 × (1 + assignedLocation 1 + location 1 + lineItems (2 + 10 × 2))) = 152;
    # requested 2 + 5 × 152. Actual, for the 3 one-line orders: 2 + 3 × (3 + 4 + 9).
    assert first["extensions"]["cost"] == {
        "requestedQueryCost": 762,
        "actualQueryCost": 50,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1950, "restoreRate": 100.0},
    }
    assert second["extensions"]["cost"] == {
        "requestedQueryCost": 12,
        "actualQueryCost": 4,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1946, "restoreRate": 100.0},
    }


def test_throttled_when_the_bucket_is_short_then_served_once_it_refills():
    clock = FakeClock()
    api = ShopifyApi(small_world(), bucket_size=100.0, restore_rate=10.0, clock=clock)
    query = "{ locations(first: 40) { nodes { id } } }"  # requests 42 points, costs 4
    api.bucket.try_take(90.0)

    throttled = post(api, query)
    clock.now += 3.2
    served = post(api, query)

    assert throttled.status == 200
    assert json.loads(throttled.body) == {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": 42,
                "actualQueryCost": None,
                "throttleStatus": {"maximumAvailable": 100.0, "currentlyAvailable": 10, "restoreRate": 10.0},
            }
        },
    }
    assert json.loads(served.body)["extensions"]["cost"] == {
        "requestedQueryCost": 42,
        "actualQueryCost": 4,
        "throttleStatus": {"maximumAvailable": 100.0, "currentlyAvailable": 38, "restoreRate": 10.0},
    }


def test_orders_query_created_after_a_timestamp_filters_and_sorts():
    api = ShopifyApi(small_world())

    after = data_of(post(api, ORDERS, {"first": 3, "query": "created_at:>'2026-11-02T09:00:00Z'"}))["orders"]
    since = data_of(post(api, ORDERS, {"first": 3, "query": "created_at:>='2026-11-02T09:00:00Z'"}))["orders"]
    newest_first = data_of(post(api, ORDERS, {"first": 3, "sortKey": "CREATED_AT", "reverse": True}))["orders"]

    assert [o["name"] for o in after["nodes"]] == ["#1003"]
    assert [o["name"] for o in since["nodes"]] == ["#1002", "#1003"]
    assert [o["name"] for o in newest_first["nodes"]] == ["#1003", "#1002", "#1001"]


def test_an_order_says_its_channel_and_where_each_line_ships_from():
    api = ShopifyApi(small_world())

    order = data_of(post(api, ORDERS, {"first": 1}))["orders"]["nodes"][0]

    assert order["sourceName"] == "web"
    assert order["channelInformation"] == {"channelDefinition": {"handle": "web"}}
    assert order["lineItems"]["nodes"] == [
        {
            "id": "gid://shopify/LineItem/95001",
            "sku": "SKU-0001",
            "quantity": 1,
            "variant": {"id": "gid://shopify/ProductVariant/40001", "sku": "SKU-0001"},
        }
    ]
    assert order["fulfillmentOrders"]["nodes"] == [
        {
            "assignedLocation": {"location": {"id": "gid://shopify/Location/71002"}},
            "lineItems": {"nodes": [{"lineItem": {"id": "gid://shopify/LineItem/95001"}}]},
        }
    ]


def test_inventory_items_filter_by_sku_and_updated_at_and_report_unknown_search_fields():
    api = ShopifyApi(small_world())

    by_sku = data_of(post(api, ITEMS, {"query": "sku:SKU-0002"}))["inventoryItems"]["nodes"]
    none_newer = data_of(post(api, ITEMS, {"query": "updated_at:>'2026-11-02T08:20:00Z'"}))["inventoryItems"]["nodes"]
    warned = json.loads(post(api, ITEMS, {"query": "sku:SKU-0001 colour:red"}).body)

    assert by_sku == [
        {
            "id": "gid://shopify/InventoryItem/30002",
            "sku": "SKU-0002",
            "tracked": True,
            "createdAt": "2026-11-02T08:00:00Z",
            "updatedAt": "2026-11-02T08:20:00Z",
            "variant": {"id": "gid://shopify/ProductVariant/40002", "sku": "SKU-0002"},
            "inventoryLevel": {"id": "gid://shopify/InventoryLevel/71001?inventory_item_id=30002"},
        }
    ]
    assert none_newer == []
    assert [n["sku"] for n in warned["data"]["inventoryItems"]["nodes"]] == ["SKU-0001"]
    assert warned["extensions"]["search"] == [
        {
            "path": ["inventoryItems"],
            "query": "sku:SKU-0001 colour:red",
            "warnings": [{"field": "colour", "message": "Invalid search field for this query."}],
        }
    ]


def test_global_ids_have_shopifys_shapes():
    api = ShopifyApi(small_world())

    levels = data_of(post(api, LEVELS_AT_LOCATION, {"locationId": "gid://shopify/Location/71001", "first": 1}))
    orders = data_of(post(api, ORDERS, {"first": 1}))["orders"]["nodes"][0]
    location = levels["location"]
    level = location["inventoryLevels"]["nodes"][0]

    assert location["id"] == "gid://shopify/Location/71001"
    assert re.fullmatch(r"gid://shopify/InventoryLevel/71001\?inventory_item_id=30001", level["id"])
    assert level["item"]["id"] == "gid://shopify/InventoryItem/30001"
    assert level["item"]["variant"]["id"] == "gid://shopify/ProductVariant/40001"
    assert orders["id"] == "gid://shopify/Order/90001"
    assert orders["lineItems"]["nodes"][0]["id"] == "gid://shopify/LineItem/95001"
    assert level["updatedAt"] == "2026-11-02T08:20:00Z"


def test_a_malformed_global_id_is_an_invalid_global_id_error():
    api = ShopifyApi(small_world())

    payload = json.loads(post(api, '{ location(id: "71001") { id } }').body)

    assert payload["data"] == {"location": None}
    assert payload["errors"][0]["message"] == "Invalid global id '71001'"


def test_another_dated_version_is_answered_as_2025_04():
    api = ShopifyApi(small_world())

    response = post(api, LOCATIONS, path="/admin/api/2024-01/graphql.json")

    assert response.status == 200
    assert ("X-Shopify-API-Version", "2025-04") in response.headers


def test_other_paths_are_404_and_other_methods_405():
    api = ShopifyApi(small_world())

    not_found = post(api, LOCATIONS, path="/admin/api/2025-04/products.json")
    get = api.handle(Request.build("GET", URL, headers={"X-Shopify-Access-Token": TOKEN}))

    assert (not_found.status, json.loads(not_found.body)) == (404, {"errors": "Not Found"})
    assert get.status == 405
