"""The ERPNext adapter over recorded Frappe responses (httpx.MockTransport) and over the sandbox."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from inventory_hub.connectors.base import (
    ConnectorConfig,
    ExternalLocation,
    PermanentConnectorError,
    PositionRecord,
    TransientConnectorError,
)
from inventory_hub.connectors.erpnext import adapter as erpnext_adapter
from inventory_hub.connectors.erpnext.adapter import ErpNextAdapter
from inventory_hub.sandbox.scenario import load_scenario
from inventory_hub.sandbox.simulation import Simulation
from inventory_hub.sandbox.world import World
from inventory_hub.sandbox.wsgi import SandboxApp, sandbox_transport

RESPONSES = Path(__file__).parent / "responses"
DOCTYPE_JSON = Path(__file__).parents[2] / "fixtures" / "erpnext"
BASE_URL = "https://erp.acme.example"
TOKEN = "token 1a2b3c4d5e6f7a8:9f8e7d6c5b4a3f2"
FRAPPE_STANDARD_FIELDS = {"name", "owner", "creation", "modified", "modified_by", "docstatus", "idx"}

Reply = httpx.Response | type[httpx.TimeoutException]


def recorded(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=json.loads((RESPONSES / name).read_text()))


class FakeErpNext:
    """Answers requests with queued replies (a response, or a timeout class to raise) and records them."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, httpx.Response):
            return reply
        raise reply("timed out", request=request)

    def params(self, index: int) -> dict[str, Any]:
        """The list parameters of one request, JSON ones decoded."""
        query = self.requests[index].url.params
        return {
            "fields": json.loads(query["fields"]),
            "filters": json.loads(query["filters"]),
            "order_by": query["order_by"],
            "limit_start": query["limit_start"],
            "limit_page_length": query["limit_page_length"],
        }


def make_adapter(fake: FakeErpNext, sleeps: list[float] | None = None, **options: Any) -> ErpNextAdapter:
    config = ConnectorConfig(
        name="ERPNext",
        base_url=BASE_URL,
        credentials={"api_key": "1a2b3c4d5e6f7a8", "api_secret": "9f8e7d6c5b4a3f2"},
        options=options,
    )
    record: Callable[[float], None] = (sleeps if sleeps is not None else []).append
    return ErpNextAdapter(config, transport=httpx.MockTransport(fake), sleep=record)


# --- requests and pagination ----------------------------------------------------------------------


def test_locations_are_the_leaf_enabled_warehouses_asked_for_with_json_encoded_filters():
    fake = FakeErpNext(recorded("warehouse_list.json"))

    locations = make_adapter(fake).locations()

    assert locations == [
        ExternalLocation(external_id="Brooklyn Store - ACME", name="Brooklyn Store"),
        ExternalLocation(external_id="Newark FC - ACME", name="Newark FC"),
    ]
    request = fake.requests[0]
    assert request.url.path == "/api/resource/Warehouse"
    assert request.headers["Authorization"] == TOKEN
    assert fake.params(0) == {
        "fields": ["name", "warehouse_name", "is_group", "disabled"],
        "filters": [["is_group", "=", 0], ["disabled", "=", 0]],
        "order_by": "name asc",
        "limit_start": "0",
        "limit_page_length": "500",
    }


def test_positions_page_with_limit_start_until_a_short_page_and_yield_each_bin_once():
    fake = FakeErpNext(
        recorded("bin_list_page_1.json"), recorded("bin_list_page_2.json"), recorded("bin_list_page_3.json")
    )

    pages = list(make_adapter(fake, page_size=2).positions())

    assert [[(r.external_location_id, r.sku) for r in page.records] for page in pages] == [
        [("Brooklyn Store - ACME", "TEE-BLK-M"), ("Brooklyn Store - ACME", "TEE-BLK-L")],
        [("Newark FC - ACME", "TEE-BLK-M"), ("Newark FC - ACME", "TEE-BLK-L")],
        [("Newark FC - ACME", "CAP-RED")],
    ]
    assert [fake.params(i)["limit_start"] for i in range(3)] == ["0", "2", "4"]
    assert fake.params(2) == {
        "fields": [
            "name",
            "item_code",
            "warehouse",
            "actual_qty",
            "reserved_qty",
            "ordered_qty",
            "projected_qty",
            "modified",
        ],
        "filters": [],
        "order_by": "name asc",
        "limit_start": "4",
        "limit_page_length": "2",
    }
    assert {r.headers["Authorization"] for r in fake.requests} == {TOKEN}
    assert {r.url.path for r in fake.requests} == {"/api/resource/Bin"}


def test_a_bin_with_more_reserved_than_actual_has_negative_available():
    fake = FakeErpNext(recorded("bin_list_page_2.json"))

    records = [r for page in make_adapter(fake, page_size=3).positions() for r in page.records]

    assert records[1] == PositionRecord(
        external_location_id="Newark FC - ACME",
        sku="TEE-BLK-L",
        on_hand=3,
        allocated=5,
        available=-2,
        incoming=48,
        as_of=dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
    )


def test_events_ask_for_uncancelled_entries_created_at_or_after_the_cursor_in_creation_then_name_order():
    fake = FakeErpNext(recorded("sle_list_page_1.json"), recorded("sle_list_page_2.json"))

    pages = list(make_adapter(fake, page_size=2).events(since="2024-05-01 14:00:00.000000"))

    assert [[e.source_event_id for e in page.records] for page in pages] == [
        ["MAT-SLE-2024-00930", "MAT-SLE-2024-00931"],
        ["MAT-SLE-2024-00932"],
    ]
    assert [page.cursor for page in pages] == ["2024-05-01 14:02:10.991002", "2024-05-01 14:20:44.000310"]
    assert fake.requests[0].url.raw_path.startswith(b"/api/resource/Stock%20Ledger%20Entry?")
    assert fake.params(0)["filters"] == [["is_cancelled", "=", 0], ["creation", ">=", "2024-05-01 14:00:00.000000"]]
    assert fake.params(0)["order_by"] == "creation asc, name asc"
    assert [fake.params(i)["limit_start"] for i in range(2)] == ["0", "2"]
    assert fake.params(1)["filters"] == fake.params(0)["filters"]


def test_events_derive_a_stock_reconciliation_delta_across_the_stream_and_map_kinds():
    fake = FakeErpNext(recorded("sle_list_page_1.json"))

    page = next(make_adapter(fake, time_zone="America/New_York").events(since=None))

    assert [(e.kind, e.delta, e.quantity_after, e.occurred_at) for e in page.records] == [
        ("sync_import", -3, 12, dt.datetime(2024, 5, 1, 13, 41, 12, tzinfo=dt.UTC)),
        ("adjustment", -2, 10, dt.datetime(2024, 5, 1, 13, 58, tzinfo=dt.UTC)),
    ]


def test_events_without_a_cursor_start_at_history_start_converted_to_site_time():
    fake = FakeErpNext(recorded("sle_list_page_2.json"))

    list(make_adapter(fake, time_zone="America/New_York", history_start="2024-05-01T18:00:00+00:00").events(since=None))

    assert fake.params(0)["filters"] == [["is_cancelled", "=", 0], ["creation", ">=", "2024-05-01 14:00:00.000000"]]


def test_events_without_a_cursor_or_history_start_read_the_whole_ledger():
    fake = FakeErpNext(recorded("sle_list_page_2.json"))

    list(make_adapter(fake).events(since=None))

    assert fake.params(0)["filters"] == [["is_cancelled", "=", 0]]


def test_an_empty_events_page_keeps_the_cursor_it_was_given():
    fake = FakeErpNext(httpx.Response(200, json={"data": []}))

    pages = list(make_adapter(fake).events(since="2024-05-01 14:20:44.000310"))

    assert [(page.records, page.cursor) for page in pages] == [((), "2024-05-01 14:20:44.000310")]


def test_sites_from_before_posting_datetime_are_read_from_posting_date_and_time():
    fake = FakeErpNext(recorded("sle_list_before_posting_datetime.json"))

    page = next(make_adapter(fake, time_zone="America/New_York", posting_datetime=False).events(since=None))

    assert "posting_datetime" not in fake.params(0)["fields"]
    assert {"posting_date", "posting_time"} <= set(fake.params(0)["fields"])
    assert page.records[0].occurred_at == dt.datetime(2023, 11, 5, 14, 5, tzinfo=dt.UTC)


# --- failures ----------------------------------------------------------------------------------------


def test_rate_limited_request_waits_the_retry_after_then_succeeds():
    limited = httpx.Response(
        429,
        headers={"Retry-After": "7", "X-RateLimit-Reset": "7", "X-RateLimit-Remaining": "0"},
        text="Too Many Requests",
    )
    fake = FakeErpNext(limited, recorded("warehouse_list.json"))
    sleeps: list[float] = []

    locations = make_adapter(fake, sleeps).locations()

    assert [loc.external_id for loc in locations] == ["Brooklyn Store - ACME", "Newark FC - ACME"]
    assert sleeps == [7.0]
    assert len(fake.requests) == 2


def test_rejected_credentials_are_a_permanent_error_and_are_not_retried():
    fake = FakeErpNext(recorded("error_401_authentication.json", status=401), recorded("warehouse_list.json"))
    sleeps: list[float] = []

    with pytest.raises(PermanentConnectorError) as raised:
        make_adapter(fake, sleeps).locations()

    assert str(raised.value) == "ERPNext rejected the credentials (HTTP 401)."
    assert len(fake.requests) == 1
    assert sleeps == []


def test_missing_api_secret_is_a_permanent_error_before_any_request():
    fake = FakeErpNext(recorded("warehouse_list.json"))
    config = ConnectorConfig(name="ERPNext", base_url=BASE_URL, credentials={"api_key": "1a2b3c4d5e6f7a8"})

    with pytest.raises(PermanentConnectorError) as raised:
        ErpNextAdapter(config, transport=httpx.MockTransport(fake)).locations()

    assert str(raised.value) == "ERPNext connector needs both an api_key and an api_secret credential."
    assert fake.requests == []


def test_a_field_the_site_does_not_permit_is_a_permanent_error_naming_it():
    fake = FakeErpNext(recorded("error_417_field_not_permitted.json", status=417))

    with pytest.raises(PermanentConnectorError) as raised:
        list(make_adapter(fake).events(since=None))

    assert str(raised.value).startswith("ERPNext refused the request (HTTP 417): ")
    assert "DataError" in str(raised.value)
    assert "Field not permitted in query: posting_datetime" in str(raised.value)
    assert len(fake.requests) == 1


def test_a_malformed_row_is_a_permanent_error_naming_the_field_path():
    fake = FakeErpNext(recorded("bin_list_missing_actual_qty.json"))

    with pytest.raises(PermanentConnectorError) as raised:
        list(make_adapter(fake).positions())

    assert str(raised.value) == "ERPNext response: data[1].actual_qty is missing"


def test_a_timeout_is_retried_then_succeeds():
    fake = FakeErpNext(httpx.ReadTimeout, recorded("bin_list_page_3.json"))
    sleeps: list[float] = []

    pages = list(make_adapter(fake, sleeps).positions())

    assert [r.sku for page in pages for r in page.records] == ["CAP-RED"]
    assert len(fake.requests) == 2
    assert len(sleeps) == 1


def test_a_deadlock_reported_inside_a_200_is_retried_then_succeeds():
    fake = FakeErpNext(recorded("error_200_query_deadlock.json"), recorded("bin_list_page_3.json"))
    sleeps: list[float] = []

    pages = list(make_adapter(fake, sleeps).positions())

    assert [r.sku for page in pages for r in page.records] == ["CAP-RED"]
    assert sleeps == [1.0]
    assert len(fake.requests) == 2


def test_a_deadlock_that_persists_is_a_transient_error_after_three_attempts():
    fake = FakeErpNext(*(recorded("error_200_query_deadlock.json") for _ in range(3)))
    sleeps: list[float] = []

    with pytest.raises(TransientConnectorError) as raised:
        list(make_adapter(fake, sleeps).positions())

    assert str(raised.value) == (
        "ERPNext reported QueryDeadlockError: "
        "(1213, 'Deadlock found when trying to get lock; try restarting transaction')."
    )
    assert sleeps == [1.0, 2.0]
    assert len(fake.requests) == 3


def test_any_other_error_inside_a_200_is_permanent_naming_its_type_and_is_not_retried():
    fake = FakeErpNext(recorded("error_200_validation.json"), recorded("sle_list_page_2.json"))
    sleeps: list[float] = []

    with pytest.raises(PermanentConnectorError) as raised:
        list(make_adapter(fake, sleeps).events(since=None))

    assert str(raised.value) == "ERPNext reported ValidationError: Invalid filter: is_cancelled."
    assert sleeps == []
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_zone": "Eastern"}, "ERPNext connector option time_zone 'Eastern' is not an IANA time zone name."),
        ({"page_size": 0}, "ERPNext connector option page_size 0 is not a positive integer."),
    ],
)
def test_unusable_options_are_permanent_errors(options, message):
    with pytest.raises(PermanentConnectorError) as raised:
        make_adapter(FakeErpNext(), **options)

    assert str(raised.value) == message


# --- requested fields exist in ERPNext ---------------------------------------------------------------


def doctype_fieldnames(file: str) -> set[str]:
    spec = json.loads((DOCTYPE_JSON / file).read_text())
    return {field["fieldname"] for field in spec["fields"]} | FRAPPE_STANDARD_FIELDS


def order_by_fields(order_by: str) -> set[str]:
    return {part.split()[0] for part in order_by.split(",")}


@pytest.mark.parametrize(
    ("file", "fields", "filters", "order_by"),
    [
        (
            "warehouse.json",
            erpnext_adapter.WAREHOUSE_FIELDS,
            erpnext_adapter.WAREHOUSE_FILTERS,
            erpnext_adapter.NAME_ORDER,
        ),
        ("bin.json", erpnext_adapter.BIN_FIELDS, (), erpnext_adapter.NAME_ORDER),
        (
            "stock_ledger_entry.json",
            erpnext_adapter.LEDGER_FIELDS,
            (("is_cancelled", "=", 0), ("creation", ">=", "")),
            erpnext_adapter.LEDGER_ORDER,
        ),
    ],
)
def test_every_field_the_adapter_queries_exists_in_the_doctype(file, fields, filters, order_by):
    used = set(fields) | {f[0] for f in filters} | order_by_fields(order_by)

    unknown = used - doctype_fieldnames(file)

    assert unknown == set()


# --- end to end against the sandbox ------------------------------------------------------------------


@pytest.fixture
def sandbox() -> tuple[World, httpx.BaseTransport]:
    scenario = load_scenario("two-stores-and-an-fc")
    sim = Simulation(scenario)
    sim.advance_to(scenario.start + dt.timedelta(days=1))
    return sim.world, sandbox_transport(SandboxApp(sim.world))


def sandbox_adapter(world: World, transport: httpx.BaseTransport, **options: Any) -> ErpNextAdapter:
    c = world.credentials
    config = ConnectorConfig(
        name="ERPNext",
        base_url="http://sandbox/erpnext",
        credentials={"api_key": c.erpnext_api_key, "api_secret": c.erpnext_api_secret},
        options={"time_zone": world.erp_time_zone, **options},
    )
    return ErpNextAdapter(config, transport=transport, sleep=lambda seconds: None)


def test_sandbox_locations_are_its_erp_warehouses(sandbox):
    world, transport = sandbox

    locations = sandbox_adapter(world, transport).locations()

    assert sorted(loc.external_id for loc in locations) == sorted(loc.erp_warehouse for loc in world.locations.values())


def test_sandbox_positions_equal_the_erp_bins(sandbox):
    world, transport = sandbox

    pages = list(sandbox_adapter(world, transport, page_size=50).positions())

    records = [r for page in pages for r in page.records]
    expected = {
        (world.locations[b.location].erp_warehouse, b.sku): PositionRecord(
            external_location_id=world.locations[b.location].erp_warehouse,
            sku=b.sku,
            on_hand=int(b.actual_qty),
            allocated=int(b.reserved_qty),
            available=int(b.actual_qty - b.reserved_qty),
            incoming=int(b.ordered_qty),
            as_of=world.erp_clock(b.modified),  # the API stamps `modified` with the ERP's own clock
        )
        for b in world.erp_bins.values()
    }
    assert len(records) == len(expected)
    assert {(r.external_location_id, r.sku): r for r in records} == expected
    assert len(pages) == -(-len(expected) // 50)


def test_sandbox_events_equal_the_erp_ledger(sandbox):
    world, transport = sandbox

    pages = list(sandbox_adapter(world, transport, page_size=100).events(since=None))

    events = [
        (e.source_event_id, e.kind, e.external_location_id, e.sku, e.delta, e.quantity_after, e.occurred_at)
        for page in pages
        for e in page.records
    ]
    assert events == [
        (
            entry.name,
            "adjustment" if entry.voucher_type == "Stock Reconciliation" else "sync_import",
            world.locations[entry.location].erp_warehouse,
            entry.sku,
            int(entry.actual_qty),
            int(entry.qty_after_transaction),
            entry.posting_datetime,
        )
        for entry in sorted(world.erp_ledger, key=lambda e: (e.creation, e.name))
        if not entry.is_cancelled
    ]


def test_sandbox_events_since_a_cursor_are_those_created_at_or_after_it(sandbox):
    world, transport = sandbox
    adapter = sandbox_adapter(world, transport, page_size=100)
    first_pass = list(adapter.events(since=None))
    cursor_page = first_pass[2]
    by_name = {entry.name: entry for entry in world.erp_ledger}
    cursor_created = by_name[cursor_page.records[-1].source_event_id].creation

    later = [e.source_event_id for page in adapter.events(since=cursor_page.cursor) for e in page.records]
    at_end = [e.source_event_id for page in adapter.events(since=first_pass[-1].cursor) for e in page.records]

    assert cursor_page.cursor == cursor_page.records[-1].raw["creation"]
    assert later == [e.name for e in world.erp_ledger if e.creation >= cursor_created]
    assert later[0] in {e.source_event_id for e in cursor_page.records}  # pages overlap at the boundary
    last_created = by_name[first_pass[-1].records[-1].source_event_id].creation
    assert at_end == [e.name for e in world.erp_ledger if e.creation == last_created]
