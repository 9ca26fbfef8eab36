from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from inventory_hub.connectors.base import (
    ExternalLocation,
    OrderLineRecord,
    PermanentConnectorError,
    PositionRecord,
)
from inventory_hub.connectors.shopify import parsing

RESPONSES = Path(__file__).parent / "responses"
BROOKLYN = "gid://shopify/Location/124656943"
MANHATTAN = "gid://shopify/Location/124656944"


def _response(name: str) -> Any:
    return json.loads((RESPONSES / name).read_text())


def test_levels_become_positions_with_committed_and_reserved_as_allocated():
    payload = _response("levels_page1.json")

    records, info = parsing.parse_levels(payload)

    assert records == [
        PositionRecord(
            external_location_id=BROOKLYN,
            sku="TEE-BLK-M",
            on_hand=10,
            allocated=2,
            available=7,
            incoming=24,
            bin="",
            as_of=dt.datetime(2024, 5, 1, 14, 15, 2, tzinfo=dt.UTC),
        ),
        PositionRecord(
            external_location_id=BROOKLYN,
            sku="TEE-BLK-L",
            on_hand=6,
            allocated=3,
            available=3,
            incoming=0,
            bin="",
            as_of=dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC),
        ),
    ]
    assert info == parsing.PageInfo(
        has_next_page=True, end_cursor="eyJsYXN0X2lkIjozMDMyMjY5NiwibGFzdF92YWx1ZSI6MzAzMjI2OTZ9"
    )


def test_levels_of_items_without_a_sku_are_left_out():
    payload = _response("levels_page2.json")

    records, info = parsing.parse_levels(payload)

    assert [r.sku for r in records] == ["MUG-WHT"]
    assert info.has_next_page is False


def test_timestamps_with_an_offset_become_utc():
    payload = _response("levels_page2.json")
    payload["data"]["location"]["inventoryLevels"]["nodes"][0]["updatedAt"] = "2024-04-30T14:00:00-04:00"

    records, _ = parsing.parse_levels(payload)

    assert records[0].as_of == dt.datetime(2024, 4, 30, 18, 0, tzinfo=dt.UTC)


def test_the_stamp_is_when_available_changed_not_when_the_level_did():
    # A fulfilment lowers on hand and committed: the level's updatedAt moves, available's does not.
    payload = _response("levels_page2.json")
    node = payload["data"]["location"]["inventoryLevels"]["nodes"][0]
    node["updatedAt"] = "2024-04-30T18:30:00Z"
    for quantity in node["quantities"]:
        quantity["updatedAt"] = "2024-04-30T18:30:00Z" if quantity["name"] != "available" else "2024-04-30T17:05:00Z"

    records, _ = parsing.parse_levels(payload)

    assert records[0].as_of == dt.datetime(2024, 4, 30, 17, 5, tzinfo=dt.UTC)


def test_without_quantity_stamps_the_levels_updated_at_is_used():
    payload = _response("levels_page2.json")
    node = payload["data"]["location"]["inventoryLevels"]["nodes"][0]
    node["updatedAt"] = "2024-04-30T18:30:00Z"
    for quantity in node["quantities"]:
        quantity["updatedAt"] = None

    records, _ = parsing.parse_levels(payload)

    assert records[0].as_of == dt.datetime(2024, 4, 30, 18, 30, tzinfo=dt.UTC)


def test_a_level_missing_quantities_is_rejected_naming_the_field():
    payload = _response("levels_page1.json")
    del payload["data"]["location"]["inventoryLevels"]["nodes"][1]["quantities"]

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_levels(payload)

    assert str(excinfo.value) == "Shopify response: data.location.inventoryLevels.nodes[1].quantities is missing"


def test_a_quantity_that_is_a_string_is_rejected_naming_the_field():
    payload = _response("levels_page1.json")
    payload["data"]["location"]["inventoryLevels"]["nodes"][0]["quantities"][3]["quantity"] = "10"

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_levels(payload)

    assert (
        str(excinfo.value)
        == "Shopify response: data.location.inventoryLevels.nodes[0].quantities[3].quantity is not an integer"
    )


def test_a_level_lacking_a_requested_quantity_name_is_rejected():
    payload = _response("levels_page1.json")
    payload["data"]["location"]["inventoryLevels"]["nodes"][0]["quantities"].pop()

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_levels(payload)

    assert str(excinfo.value) == "Shopify response: data.location.inventoryLevels.nodes[0].quantities lacks incoming"


def test_a_bad_timestamp_is_rejected_naming_the_field():
    payload = _response("levels_page1.json")
    payload["data"]["location"]["inventoryLevels"]["nodes"][0]["updatedAt"] = "yesterday"

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_levels(payload)

    assert (
        str(excinfo.value)
        == "Shopify response: data.location.inventoryLevels.nodes[0].updatedAt is not an ISO-8601 timestamp: 'yesterday'"
    )


def test_a_null_location_is_rejected():
    payload = {"data": {"location": None}}

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_levels(payload)

    assert str(excinfo.value) == (
        "Shopify response: data.location is null: the location no longer exists or the token may not read it"
    )


def test_a_next_page_without_a_cursor_is_rejected():
    payload = _response("levels_page1.json")
    payload["data"]["location"]["inventoryLevels"]["pageInfo"]["endCursor"] = None

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_levels(payload)

    assert str(excinfo.value) == (
        "Shopify response: data.location.inventoryLevels.pageInfo says there is a next page but gives no endCursor"
    )


def test_a_body_without_data_is_rejected():
    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_locations({"extensions": {}})

    assert str(excinfo.value) == "Shopify response: data is missing"


def test_locations_become_external_locations():
    payload = _response("locations.json")

    records, info = parsing.parse_locations(payload)

    assert records == [
        ExternalLocation(external_id=BROOKLYN, name="Brooklyn Store", active=True),
        ExternalLocation(external_id=MANHATTAN, name="Manhattan Warehouse", active=True),
    ]
    assert info.has_next_page is False


def test_order_lines_take_the_location_of_their_fulfillment_order():
    payload = _response("orders_page1.json")

    orders, _ = parsing.parse_orders(payload)
    record = parsing.order_record(orders[0])

    assert record.source_order_id == "gid://shopify/Order/5500"
    assert record.name == "#1001"
    assert record.channel == "web"
    assert record.placed_at == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert record.lines == (OrderLineRecord("gid://shopify/LineItem/9001", BROOKLYN, "TEE-BLK-M", 2),)
    assert record.raw == payload["data"]["orders"]["nodes"][0]


def test_a_line_split_between_locations_becomes_one_line_per_location_and_lines_without_sku_are_left_out():
    payload = _response("orders_page1.json")

    orders, _ = parsing.parse_orders(payload)
    record = parsing.order_record(orders[1])

    assert record.channel == "pos"
    assert record.lines == (
        OrderLineRecord("gid://shopify/LineItem/9002?location_id=124656943", BROOKLYN, "TEE-BLK-L", 1),
        OrderLineRecord("gid://shopify/LineItem/9002?location_id=124656944", MANHATTAN, "TEE-BLK-L", 2),
    )


def test_a_cancelled_fulfillment_order_does_not_assign_its_lines():
    payload = _response("orders_page2.json")

    orders, _ = parsing.parse_orders(payload)
    record = parsing.order_record(orders[0])

    assert record.lines == (OrderLineRecord("gid://shopify/LineItem/9004", MANHATTAN, "MUG-WHT", 1),)


def test_a_line_in_no_fulfillment_order_has_no_location():
    payload = _response("orders_page2.json")
    payload["data"]["orders"]["nodes"][0]["fulfillmentOrders"]["nodes"] = []

    orders, _ = parsing.parse_orders(payload)
    record = parsing.order_record(orders[0])

    assert record.lines == (OrderLineRecord("gid://shopify/LineItem/9004", "", "MUG-WHT", 1),)


def test_truncated_nested_pages_are_flagged():
    payload = _response("orders_big_order.json")

    orders, _ = parsing.parse_orders(payload)

    assert orders[0].lines_truncated is True
    assert orders[0].fulfillment_orders_truncated is True
    assert len(orders[0].lines) == 10


def test_an_order_without_a_line_quantity_is_rejected_naming_the_field():
    payload = copy.deepcopy(_response("orders_page1.json"))
    del payload["data"]["orders"]["nodes"][1]["lineItems"]["nodes"][0]["quantity"]

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_orders(payload)

    assert str(excinfo.value) == "Shopify response: data.orders.nodes[1].lineItems.nodes[0].quantity is missing"
