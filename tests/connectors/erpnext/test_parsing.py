"""ERPNext payloads → records: shapes, quantities, site time zones, ledger deltas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from inventory_hub.connectors.base import EventRecord, ExternalLocation, PermanentConnectorError, PositionRecord
from inventory_hub.connectors.erpnext import parsing

RESPONSES = Path(__file__).parent / "responses"
UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")


def rows(name: str) -> list[dict]:
    return json.loads((RESPONSES / name).read_text())["data"]


def bin_row(**overrides: object) -> dict:
    row = dict(rows("bin_list_page_1.json")[0])
    row.update(overrides)
    return row


def sle_row(**overrides: object) -> dict:
    row = dict(rows("sle_list_page_1.json")[0])
    row.update(overrides)
    return row


def test_a_bin_becomes_a_position_with_available_as_actual_minus_reserved():
    row = rows("bin_list_page_1.json")[0]

    position = parsing.bin_position(row, 0, UTC)

    assert position == PositionRecord(
        external_location_id="Brooklyn Store - ACME",
        sku="TEE-BLK-M",
        on_hand=12,
        allocated=2,
        available=10,
        incoming=24,
        as_of=dt.datetime(2024, 5, 1, 14, 2, 11, 418220, tzinfo=dt.UTC),
    )


def test_naive_datetimes_are_read_in_the_site_time_zone_and_returned_in_utc():
    summer, winter = bin_row(modified="2024-05-01 14:02:11.418220"), bin_row(modified="2024-01-15 09:00:00")

    summer_as_of = parsing.bin_position(summer, 0, NEW_YORK).as_of
    winter_as_of = parsing.bin_position(winter, 0, NEW_YORK).as_of

    assert summer_as_of == dt.datetime(2024, 5, 1, 18, 2, 11, 418220, tzinfo=dt.UTC)  # EDT, UTC-4
    assert winter_as_of == dt.datetime(2024, 1, 15, 14, 0, tzinfo=dt.UTC)  # EST, UTC-5


def test_an_ambiguous_local_time_when_clocks_go_back_is_read_as_the_first_occurrence():
    row = bin_row(modified="2024-11-03 01:30:00")

    as_of = parsing.bin_position(row, 0, NEW_YORK).as_of

    assert as_of == dt.datetime(2024, 11, 3, 5, 30, tzinfo=dt.UTC)  # 01:30 EDT, not 01:30 EST


def test_a_quantity_within_float_noise_of_a_whole_number_is_rounded():
    row = bin_row(actual_qty=11.9999999999, reserved_qty=2.0000000001)

    position = parsing.bin_position(row, 0, UTC)

    assert (position.on_hand, position.allocated, position.available) == (12, 2, 10)


def test_a_fractional_stock_quantity_is_a_permanent_error_naming_the_field():
    row = bin_row(actual_qty=2.5)

    with pytest.raises(PermanentConnectorError) as raised:
        parsing.bin_position(row, 4, UTC)

    assert str(raised.value) == "ERPNext response: data[4].actual_qty is 2.5, not a whole number of units"


def test_a_bin_row_missing_actual_qty_is_a_permanent_error_naming_the_field_path():
    row = rows("bin_list_missing_actual_qty.json")[1]

    with pytest.raises(PermanentConnectorError) as raised:
        parsing.bin_position(row, 1, UTC)

    assert str(raised.value) == "ERPNext response: data[1].actual_qty is missing"


def test_a_quantity_sent_as_a_string_is_a_permanent_error():
    row = bin_row(reserved_qty="2.0")

    with pytest.raises(PermanentConnectorError) as raised:
        parsing.bin_position(row, 7, UTC)

    assert str(raised.value) == "ERPNext response: data[7].reserved_qty is not a number"


def test_a_datetime_in_another_format_is_a_permanent_error_naming_the_field():
    row = bin_row(modified="2024-05-01T14:02:11Z")

    with pytest.raises(PermanentConnectorError) as raised:
        parsing.bin_position(row, 0, UTC)

    assert str(raised.value) == (
        "ERPNext response: data[0].modified is not a datetime like 'YYYY-MM-DD HH:MM:SS' (got '2024-05-01T14:02:11Z')"
    )


def test_a_body_without_a_data_list_is_a_permanent_error():
    body = {"message": []}

    with pytest.raises(PermanentConnectorError) as raised:
        parsing.data_rows(body)

    assert str(raised.value) == "ERPNext response: data is missing or not a list"


def test_an_unknown_time_zone_name_is_a_permanent_error():
    with pytest.raises(PermanentConnectorError) as raised:
        parsing.time_zone("Mars/Olympus_Mons")

    assert str(raised.value) == "ERPNext connector option time_zone 'Mars/Olympus_Mons' is not an IANA time zone name."


def test_a_leaf_warehouse_is_a_location_named_by_its_warehouse_name():
    row = rows("warehouse_list.json")[0]

    location = parsing.warehouse_location(row, 0)

    assert location == ExternalLocation(external_id="Brooklyn Store - ACME", name="Brooklyn Store")


def test_group_and_disabled_warehouses_are_not_locations():
    group = {"name": "All Warehouses - ACME", "warehouse_name": "All Warehouses", "is_group": 1, "disabled": 0}
    disabled = {"name": "Old Store - ACME", "warehouse_name": "Old Store", "is_group": 0, "disabled": 1}

    assert parsing.warehouse_location(group, 0) is None
    assert parsing.warehouse_location(disabled, 1) is None


def test_a_ledger_entry_becomes_a_sync_import_event_keeping_voucher_and_creation_in_raw():
    row = rows("sle_list_page_1.json")[0]

    event = parsing.ledger_event(row, 0, NEW_YORK, {})

    assert event == EventRecord(
        source_event_id="MAT-SLE-2024-00930",
        kind="sync_import",
        external_location_id="Brooklyn Store - ACME",
        sku="TEE-BLK-M",
        delta=-3,
        quantity_after=12,
        occurred_at=dt.datetime(2024, 5, 1, 13, 41, 12, tzinfo=dt.UTC),
        raw=row,
    )
    assert (event.raw["voucher_type"], event.raw["voucher_no"], event.raw["creation"]) == (
        "Delivery Note",
        "MAT-DN-2024-00311",
        "2024-05-01 14:02:10.991002",
    )


def test_a_stock_reconciliation_delta_is_derived_from_the_previous_balance_in_the_stream():
    delivery, reconciliation = rows("sle_list_page_1.json")  # reconciliation's actual_qty is 0, as ERPNext leaves it
    balances: parsing.Balances = {}

    parsing.ledger_event(delivery, 0, UTC, balances)
    event = parsing.ledger_event(reconciliation, 1, UTC, balances)

    assert event is not None
    assert (event.kind, event.delta, event.quantity_after) == ("adjustment", -2, 10)
    assert balances == {("TEE-BLK-M", "Brooklyn Store - ACME"): 10}


def test_a_stock_reconciliation_without_a_previous_balance_uses_actual_qty():
    row = rows("sle_list_page_2.json")[0]

    event = parsing.ledger_event(row, 0, UTC, {})

    assert event is not None
    assert (event.kind, event.delta, event.quantity_after) == ("adjustment", -2, 3)


def test_the_previous_balance_of_another_warehouse_is_not_used_for_the_delta():
    row = rows("sle_list_page_2.json")[0]
    balances: parsing.Balances = {("TEE-BLK-L", "Brooklyn Store - ACME"): 40}

    event = parsing.ledger_event(row, 0, UTC, balances)

    assert event is not None
    assert event.delta == -2


def test_without_posting_datetime_the_posting_date_and_time_are_combined():
    row = rows("sle_list_before_posting_datetime.json")[0]  # posting_time "9:05:00", as old sites render it

    event = parsing.ledger_event(row, 0, NEW_YORK, {})

    assert event is not None
    assert event.occurred_at == dt.datetime(2023, 11, 5, 14, 5, tzinfo=dt.UTC)  # EST from that morning on


def test_a_cancelled_ledger_entry_is_skipped_and_leaves_the_balances_alone():
    row = sle_row(is_cancelled=1)
    balances: parsing.Balances = {}

    event = parsing.ledger_event(row, 0, UTC, balances)

    assert event is None
    assert balances == {}


def test_a_ledger_entry_with_a_bad_posting_datetime_is_a_permanent_error():
    row = sle_row(posting_datetime="01/05/2024 09:41")

    with pytest.raises(PermanentConnectorError) as raised:
        parsing.ledger_event(row, 3, UTC, {})

    assert str(raised.value) == (
        "ERPNext response: data[3].posting_datetime is not a datetime like 'YYYY-MM-DD HH:MM:SS' (got '01/05/2024 09:41')"
    )
