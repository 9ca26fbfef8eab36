from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from inventory_hub.connectors.base import EventRecord, ExternalLocation, PermanentConnectorError, PositionRecord
from inventory_hub.connectors.shiphero import parsing

RESPONSES = Path(__file__).with_name("responses")
W1 = "V2FyZWhvdXNlOjc2NzMz"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RESPONSES / f"{name}.json").read_text())


def test_locations_are_warehouses_by_graphql_id_named_by_identifier():
    payload = recorded("account")

    locations = parsing.parse_locations(payload)

    assert locations == [
        ExternalLocation(external_id=W1, name="Primary"),
        ExternalLocation(external_id="V2FyZWhvdXNlOjc2NzM0", name="Store B"),
    ]


def test_a_product_gives_a_warehouse_record_then_one_per_bin_holding_stock():
    payload = recorded("warehouse_products_page1")

    page = parsing.parse_positions(payload)

    as_of = dt.datetime(2024, 5, 23, 10, 15, tzinfo=dt.UTC)
    assert page.records[:3] == (
        PositionRecord(external_location_id=W1, sku="TEE-BLK-M", on_hand=48, allocated=5, available=43, as_of=as_of),
        PositionRecord(W1, "TEE-BLK-M", on_hand=45, allocated=0, available=45, bin="AA-05-01-01", as_of=as_of),
        PositionRecord(W1, "TEE-BLK-M", on_hand=3, allocated=0, available=0, bin="QUARANTINE", as_of=as_of),
    )
    assert [r.bin for r in page.records] == ["", "AA-05-01-01", "QUARANTINE", "", "AA-05-02-01"]
    assert page.page_info == parsing.PageInfo(has_next_page=True, end_cursor="YXJyYXljb25uZWN0aW9uOjE=")
    assert page.overflows == ()


def test_a_product_with_more_bins_than_the_nested_page_is_reported_as_overflow():
    payload = recorded("warehouse_products_bin_overflow")

    page = parsing.parse_positions(payload)

    assert page.overflows == (parsing.BinOverflow(W1, "MUG-RED", after="YXJyYXljb25uZWN0aW9uOjE="),)
    assert [r.bin for r in page.records] == ["", "A-01", "A-02"]


def test_a_time_without_offset_is_read_as_utc():
    payload = recorded("warehouse_products_page2")

    page = parsing.parse_positions(payload)

    assert page.records[0].as_of == dt.datetime(2024, 5, 23, 11, 0, tzinfo=dt.UTC)


def test_a_product_missing_on_hand_names_the_field_path():
    payload = recorded("warehouse_products_page1")
    del payload["data"]["warehouse_products"]["data"]["edges"][1]["node"]["on_hand"]

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_positions(payload)

    assert str(excinfo.value) == "ShipHero response: data.warehouse_products.data.edges[1].node.on_hand is missing"


def test_on_hand_as_a_string_names_the_field_path():
    payload = recorded("warehouse_products_page1")
    payload["data"]["warehouse_products"]["data"]["edges"][0]["node"]["on_hand"] = "48"

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_positions(payload)

    assert (
        str(excinfo.value) == "ShipHero response: data.warehouse_products.data.edges[0].node.on_hand is not an integer"
    )


def test_a_bin_quantity_that_is_not_an_integer_names_the_nested_path():
    payload = recorded("warehouse_products_page1")
    payload["data"]["warehouse_products"]["data"]["edges"][0]["node"]["locations"]["edges"][1]["node"]["quantity"] = 3.5

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_positions(payload)

    assert str(excinfo.value) == (
        "ShipHero response: data.warehouse_products.data.edges[0].node.locations.edges[1].node.quantity "
        "is not an integer"
    )


def test_a_null_result_names_the_root_field():
    payload = {"data": {"warehouse_products": None}}

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_positions(payload)

    assert str(excinfo.value) == "ShipHero response: data.warehouse_products is null"


def test_a_next_page_without_an_end_cursor_is_rejected():
    payload = recorded("warehouse_products_page1")
    payload["data"]["warehouse_products"]["data"]["pageInfo"]["endCursor"] = None

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_positions(payload)

    assert str(excinfo.value) == (
        "ShipHero response: data.warehouse_products.data.pageInfo.endCursor is null although hasNextPage is true"
    )


def test_a_change_becomes_an_event_with_quantity_after_and_its_raw_node():
    payload = recorded("inventory_changes_page1")

    page = parsing.parse_events(payload)

    node = payload["data"]["inventory_changes"]["data"]["edges"][1]["node"]
    assert page.records[1] == EventRecord(
        source_event_id="SW52ZW50b3J5Q2hhbmdlOjEwMg==",
        kind="receipt",
        external_location_id=W1,
        sku="TEE-BLK-M",
        delta=24,
        quantity_after=124,
        occurred_at=dt.datetime(2025, 2, 3, 14, 2, 11, tzinfo=dt.UTC),
        bin="AA-05-01-01",
        raw=node,
    )
    assert page.records[0].kind == "cycle_count"


def test_a_change_whose_bin_is_gone_keeps_the_event_without_a_bin():
    payload = recorded("inventory_changes_page1")
    payload["data"]["inventory_changes"]["data"]["edges"][0]["node"]["location"] = None

    page = parsing.parse_events(payload)

    assert page.records[0].bin == ""


def test_a_bad_created_at_names_the_field_path():
    payload = recorded("inventory_changes_page1")
    payload["data"]["inventory_changes"]["data"]["edges"][1]["node"]["created_at"] = "yesterday"

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_events(payload)

    assert str(excinfo.value) == (
        "ShipHero response: data.inventory_changes.data.edges[1].node.created_at is not an ISO date-time ('yesterday')"
    )


def test_a_change_without_an_id_is_rejected_since_it_could_not_be_deduplicated():
    payload = recorded("inventory_changes_page1")
    payload["data"]["inventory_changes"]["data"]["edges"][0]["node"]["id"] = None

    with pytest.raises(PermanentConnectorError) as excinfo:
        parsing.parse_events(payload)

    assert (
        str(excinfo.value)
        == "ShipHero response: data.inventory_changes.data.edges[0].node.id is not a non-empty string"
    )


def test_parsing_does_not_modify_the_payload():
    payload = recorded("inventory_changes_page1")
    before = copy.deepcopy(payload)

    parsing.parse_events(payload)

    assert payload == before


@pytest.mark.parametrize(
    ("reason", "cycle_counted", "kind"),
    [
        ("Cycle count", True, "cycle_count"),
        ("Received PO #4711", True, "cycle_count"),  # the flag wins over the text
        ("Received PO-000123", False, "receipt"),
        ("PO 4711 put away", False, "receipt"),
        ("Purchase order 88 checked in", False, "receipt"),
        ("Returned order #1001 restocked", False, "receipt"),
        ("Order #1001 shipped", False, "pick"),
        ("Shipped 2 for web", False, "pick"),
        ("Picked for order 12", False, "pick"),
        ("Transfer to store-b", False, "transfer"),
        ("Moved to QUARANTINE: damaged", False, "transfer"),
        ("Backflush of ERP adjustment for order 42", False, "adjustment"),
        ("Shrinkage: damaged or lost", False, "adjustment"),
        ("Change from the product page via the ShipHero Web Dashboard.", False, "adjustment"),
        ("Monthly report correction", False, "adjustment"),  # "po" inside a word is not a PO
        ("", False, "adjustment"),
    ],
)
def test_reason_heuristic_classifies_the_change(reason, cycle_counted, kind):
    result = parsing.event_kind(reason, cycle_counted=cycle_counted)

    assert result == kind
