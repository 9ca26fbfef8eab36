from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from inventory_hub.connectors.base import (
    ConnectorConfig,
    ExternalLocation,
    PermanentConnectorError,
    TransientConnectorError,
)
from inventory_hub.connectors.shiphero import adapter as shiphero_adapter
from inventory_hub.connectors.shiphero.adapter import ShipHeroAdapter
from inventory_hub.sandbox.scenario import load_scenario
from inventory_hub.sandbox.shiphero import ShipHeroApi
from inventory_hub.sandbox.simulation import Simulation
from inventory_hub.sandbox.wsgi import SandboxApp, sandbox_transport

RESPONSES = Path(__file__).with_name("responses")
FIXTURES = Path(__file__).parents[2] / "fixtures" / "shiphero"
TOKEN = "test-access-token"
W1 = "V2FyZWhvdXNlOjc2NzMz"
# The 2022 SDL predates InventoryChange.id/legacy_id; ShipHero's current schema reference adds
# exactly these two (shiphero_docs_deltas_2026.json), so the events query is checked against the
# real SDL extended with them and nothing else.
CHANGE_IDS_2026 = "scalar BigInt\nextend type InventoryChange { id: String legacy_id: BigInt }\n"


@functools.cache
def real_schema(*, with_change_ids: bool = False) -> GraphQLSchema:
    sdl = (FIXTURES / "shiphero_public_api_2022-04.reconstructed.graphql").read_text()
    return build_schema(sdl + CHANGE_IDS_2026 if with_change_ids else sdl)


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RESPONSES / f"{name}.json").read_text())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeShipHero:
    """Serves queued responses as ShipHero would, checking each request like ShipHero does."""

    def __init__(self, *answers: dict[str, Any] | httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.log: list[str] = []  # requests and sleeps, in order

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/graphql"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        body = json.loads(request.content)
        schema = real_schema(with_change_ids="inventory_changes" in body["query"])
        assert validate(schema, parse(body["query"])) == []
        self.requests.append(body)
        self.log.append("request")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def sleep(self, seconds: float) -> None:
        self.log.append(f"sleep {seconds:g}")

    def adapter(self, **options: Any) -> ShipHeroAdapter:
        config = ConnectorConfig(
            name="ShipHero",
            base_url="https://public-api.shiphero.com",
            credentials={"access_token": TOKEN},
            options=options,
        )
        return ShipHeroAdapter(config, transport=httpx.MockTransport(self.handle), sleep=self.sleep, clock=lambda: 0.0)

    @property
    def sleeps(self) -> list[str]:
        return [entry for entry in self.log if entry.startswith("sleep")]


def test_the_read_queries_validate_against_the_real_2022_schema():
    documents = [shiphero_adapter.LOCATIONS_QUERY, shiphero_adapter.POSITIONS_QUERY, shiphero_adapter.MORE_BINS_QUERY]

    errors = [validate(real_schema(), parse(document)) for document in documents]

    assert errors == [[], [], []]


def test_the_events_query_needs_only_the_2026_change_ids_beyond_the_real_schema():
    document = parse(shiphero_adapter.EVENTS_QUERY)

    plain = validate(real_schema(), document)
    extended = validate(real_schema(with_change_ids=True), document)

    assert [error.message for error in plain] == [
        "Cannot query field 'id' on type 'InventoryChange'.",
        "Cannot query field 'legacy_id' on type 'InventoryChange'.",
    ]
    assert extended == []


def test_locations_are_the_accounts_warehouses():
    fake = FakeShipHero(recorded("account"))

    locations = fake.adapter().locations()

    assert locations == [
        ExternalLocation(external_id=W1, name="Primary"),
        ExternalLocation(external_id="V2FyZWhvdXNlOjc2NzM0", name="Store B"),
    ]
    assert fake.requests[0]["variables"] == {}


def test_positions_walk_every_page_once_passing_the_end_cursor():
    fake = FakeShipHero(recorded("warehouse_products_page1"), recorded("warehouse_products_page2"))

    pages = list(fake.adapter().positions())

    assert [[(r.external_location_id, r.sku, r.bin) for r in page.records] for page in pages] == [
        [
            (W1, "TEE-BLK-M", ""),
            (W1, "TEE-BLK-M", "AA-05-01-01"),
            (W1, "TEE-BLK-M", "QUARANTINE"),
            (W1, "TEE-WHT-S", ""),
            (W1, "TEE-WHT-S", "AA-05-02-01"),
        ],
        [("V2FyZWhvdXNlOjc2NzM0", "TEE-BLK-M", ""), ("V2FyZWhvdXNlOjc2NzM0", "TEE-BLK-M", "B-01")],
    ]
    assert [request["variables"] for request in fake.requests] == [
        {"first": 50, "after": None, "bins": 20},
        {"first": 50, "after": "YXJyYXljb25uZWN0aW9uOjE=", "bins": 20},
    ]
    assert [page.cursor for page in pages] == [None, None]


def test_positions_fetch_the_remaining_bins_of_a_product_with_more_bins_than_a_page():
    fake = FakeShipHero(recorded("warehouse_products_bin_overflow"), recorded("warehouse_products_more_bins"))

    pages = list(fake.adapter().positions())

    assert [(r.bin, r.on_hand, r.available) for r in pages[0].records] == [
        ("", 30, 30),
        ("A-01", 10, 10),
        ("A-02", 10, 10),
        ("A-03", 10, 0),
    ]
    assert fake.requests[1]["variables"] == {
        "warehouse_id": W1,
        "sku": "MUG-RED",
        "bins": 100,
        "after": "YXJyYXljb25uZWN0aW9uOjE=",
    }


def test_events_page_by_end_cursor_and_resume_from_the_latest_created_at():
    fake = FakeShipHero(recorded("inventory_changes_page1"), recorded("inventory_changes_page2"))

    pages = list(fake.adapter().events(since="2025-02-03T00:00:00+00:00"))

    assert [[r.source_event_id for r in page.records] for page in pages] == [
        ["SW52ZW50b3J5Q2hhbmdlOjEwMQ==", "SW52ZW50b3J5Q2hhbmdlOjEwMg=="],
        ["SW52ZW50b3J5Q2hhbmdlOjEwMw=="],
    ]
    assert [page.cursor for page in pages] == ["2025-02-03T14:02:11+00:00", "2025-02-03T15:45:00+00:00"]
    assert [request["variables"] for request in fake.requests] == [
        {"date_from": "2025-02-03T00:00:00+00:00", "first": 100, "after": None},
        {"date_from": "2025-02-03T00:00:00+00:00", "first": 100, "after": "YXJyYXljb25uZWN0aW9uOjE="},
    ]


def test_events_without_a_cursor_start_at_history_start():
    fake = FakeShipHero(recorded("inventory_changes_page2"))

    pages = list(fake.adapter(history_start="2025-01-01T00:00:00Z").events(since=None))

    assert fake.requests[0]["variables"]["date_from"] == "2025-01-01T00:00:00Z"
    assert pages[0].cursor == "2025-02-03T15:45:00+00:00"


def test_an_empty_history_page_keeps_the_cursor_it_was_given():
    empty = recorded("inventory_changes_page2")
    empty["data"]["inventory_changes"]["data"]["edges"] = []
    fake = FakeShipHero(empty)

    pages = list(fake.adapter().events(since="2025-02-03T15:45:00+00:00"))

    assert [(page.records, page.cursor) for page in pages] == [((), "2025-02-03T15:45:00+00:00")]


def test_a_429_is_retried_after_its_retry_after():
    fake = FakeShipHero(
        httpx.Response(429, headers={"Retry-After": "3"}, json={"errors": [{"message": "Too many requests"}]}),
        recorded("account"),
    )

    locations = fake.adapter().locations()

    assert len(locations) == 2
    assert fake.log == ["request", "sleep 3", "request"]


def test_credit_exhaustion_waits_the_time_remaining_then_retries():
    fake = FakeShipHero(recorded("throttled"), recorded("warehouse_products_page2"))

    pages = list(fake.adapter().positions())

    assert len(pages[0].records) == 2
    assert fake.log == ["request", "sleep 17", "request"]
    assert fake.requests[0] == fake.requests[1]


def test_repeated_credit_exhaustion_gives_up_as_transient_with_the_wait():
    fake = FakeShipHero(*[recorded("throttled")] * 4)

    with pytest.raises(TransientConnectorError) as excinfo:
        list(fake.adapter().positions())

    assert str(excinfo.value) == "ShipHero is out of API credits (needs 1001, has 3); retry in 17 s."
    assert excinfo.value.retry_after == 17.0
    assert fake.sleeps == ["sleep 17"] * 3
    assert fake.answers == []


def test_a_credit_wait_longer_than_a_minute_is_left_to_the_task_retry():
    slow = recorded("throttled")
    slow["errors"][0]["time_remaining"] = "90 seconds"
    fake = FakeShipHero(slow)

    with pytest.raises(TransientConnectorError) as excinfo:
        list(fake.adapter().positions())

    assert excinfo.value.retry_after == 90.0
    assert fake.sleeps == []


def test_a_query_too_expensive_for_any_bucket_is_permanent():
    too_big = recorded("throttled")
    too_big["errors"][0].update(
        message="The query requires 5001 credits, more than the maximum of 4004 a single operation can use",
        required_credits=5001,
        time_remaining=None,
    )
    fake = FakeShipHero(too_big)

    with pytest.raises(PermanentConnectorError) as excinfo:
        list(fake.adapter().positions())

    assert str(excinfo.value) == (
        "ShipHero refused the query as too expensive: The query requires 5001 credits, "
        "more than the maximum of 4004 a single operation can use"
    )
    assert fake.sleeps == []


def test_pacing_waits_before_a_query_the_credit_estimate_cannot_cover():
    # 2403 credits at 60/s: two 1001-credit pages leave 401, the third needs 600 more = 10 s.
    fake = FakeShipHero(
        recorded("warehouse_products_page1"), recorded("warehouse_products_page1"), recorded("warehouse_products_page2")
    )

    pages = list(fake.adapter(credits=2403, restore_rate=60).positions())

    assert len(pages) == 3
    assert fake.log == ["request", "request", "sleep 10", "request"]


def test_pacing_follows_the_complexity_shiphero_reports_not_our_guess():
    cheap = recorded("warehouse_products_page1")
    cheap["data"]["warehouse_products"]["complexity"] = 101
    fake = FakeShipHero(cheap, cheap, recorded("warehouse_products_page2"))

    list(fake.adapter(credits=2403, restore_rate=60).positions())

    assert fake.sleeps == []


def test_a_401_is_a_permanent_credentials_error():
    fake = FakeShipHero(httpx.Response(401, json=recorded("unauthorized")))

    with pytest.raises(PermanentConnectorError) as excinfo:
        fake.adapter().locations()

    assert str(excinfo.value) == "ShipHero rejected the credentials (HTTP 401)."
    assert fake.sleeps == []


def test_a_connector_without_an_access_token_sends_nothing():
    fake = FakeShipHero(recorded("account"))
    config = ConnectorConfig(name="Main WMS", base_url="https://public-api.shiphero.com", credentials={})
    adapter = ShipHeroAdapter(config, transport=httpx.MockTransport(fake.handle), sleep=fake.sleep)

    with pytest.raises(PermanentConnectorError) as excinfo:
        adapter.locations()

    assert str(excinfo.value) == "Main WMS has no ShipHero access token (credentials access_token)."
    assert fake.requests == []


def test_a_timeout_is_retried_then_succeeds():
    fake = FakeShipHero(httpx.ReadTimeout("read timed out"), recorded("account"))

    locations = fake.adapter().locations()

    assert len(locations) == 2
    assert [entry.split()[0] for entry in fake.log] == ["request", "sleep", "request"]


def test_a_malformed_page_is_permanent_and_names_the_field():
    bad = recorded("warehouse_products_page1")
    del bad["data"]["warehouse_products"]["data"]["edges"][0]["node"]["on_hand"]
    fake = FakeShipHero(bad, recorded("warehouse_products_page2"))

    with pytest.raises(PermanentConnectorError) as excinfo:
        list(fake.adapter().positions())

    assert str(excinfo.value) == "ShipHero response: data.warehouse_products.data.edges[0].node.on_hand is missing"
    assert len(fake.requests) == 1


def test_an_internal_error_inside_a_200_is_transient():
    fake = FakeShipHero(recorded("error_internal"))

    with pytest.raises(TransientConnectorError) as excinfo:
        list(fake.adapter().positions())

    assert str(excinfo.value) == "ShipHero reported a temporary error: Internal server error, please try again"


def test_any_other_error_inside_a_200_is_permanent_and_quotes_the_message():
    fake = FakeShipHero(recorded("error_warehouse_not_found"))

    with pytest.raises(PermanentConnectorError) as excinfo:
        list(fake.adapter().positions())

    assert str(excinfo.value) == "ShipHero reported an error: Warehouse not found"
    assert fake.sleeps == []


# --- end to end against the sandbox --------------------------------------------------------------


class SimulatedTime:
    """One clock for the sandbox's credit bucket and the adapter's waits: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def sandbox() -> tuple[Simulation, Callable[[], ShipHeroAdapter]]:
    scenario = load_scenario("two-stores-and-an-fc")
    sim = Simulation(scenario)
    sim.advance_to(scenario.start + dt.timedelta(days=1))
    time = SimulatedTime()
    # The sandbox's bucket runs on the same simulated clock, so the adapter's waits refill it.
    app = SandboxApp(sim.world, apis={"shiphero": ShipHeroApi(sim.world, clock=time.clock)})
    config = ConnectorConfig(
        name="ShipHero",
        base_url="http://sandbox/shiphero",
        credentials={"access_token": sim.world.credentials.shiphero_access_token},
    )

    def make() -> ShipHeroAdapter:
        return ShipHeroAdapter(config, transport=sandbox_transport(app), sleep=time.sleep, clock=time.clock)

    return sim, make


def test_sandbox_warehouse_records_equal_the_wms_products(sandbox):
    sim, make = sandbox

    records = [r for page in make().positions() for r in page.records if r.bin == ""]

    expected = {
        (b64(f"Warehouse:{sim.world.locations[p.location].shiphero_id}"), p.sku): (p.on_hand, p.allocated, p.available)
        for p in sim.world.wms_products.values()
    }
    assert {(r.external_location_id, r.sku): (r.on_hand, r.allocated, r.available) for r in records} == expected
    assert len(records) == len(expected)


def test_sandbox_bin_records_equal_the_products_stocked_bins(sandbox):
    sim, make = sandbox

    records = [r for page in make().positions() for r in page.records if r.bin != ""]

    expected = {
        (b64(f"Warehouse:{sim.world.locations[p.location].shiphero_id}"), p.sku, name): (
            quantity,
            0 if name in p.non_sellable_bins else quantity,
        )
        for p in sim.world.wms_products.values()
        for name, quantity in p.bins.items()
        if quantity != 0
    }
    assert {(r.external_location_id, r.sku, r.bin): (r.on_hand, r.available) for r in records} == expected
    assert len(records) == len(expected)


def test_sandbox_events_equal_the_wms_changes_and_resume_from_the_cursor(sandbox):
    sim, make = sandbox
    adapter = make()

    pages = list(adapter.events(since=None))
    cursor = pages[-1].cursor
    assert cursor is not None
    later = [r for page in adapter.events(since=cursor) for r in page.records]

    events = [r for page in pages for r in page.records]
    assert [(r.source_event_id, r.sku, r.delta, r.bin, r.quantity_after) for r in events] == [
        (
            b64(f"InventoryChange:{c.legacy_id}"),
            c.sku,
            c.change_in_on_hand,
            c.bin,
            c.previous_on_hand + c.change_in_on_hand,
        )
        for c in sorted(sim.world.wms_changes, key=lambda c: (c.created_at, c.legacy_id))
    ]
    since = dt.datetime.fromisoformat(cursor)
    assert [r.source_event_id for r in later] == [
        b64(f"InventoryChange:{c.legacy_id}")
        for c in sorted(sim.world.wms_changes, key=lambda c: (c.created_at, c.legacy_id))
        if c.created_at.replace(microsecond=0) >= since
    ]
    assert later != []


# --- incremental reads --------------------------------------------------------------------------


def test_positions_changed_since_filter_on_updated_from_in_utc_whole_seconds():
    fake = FakeShipHero(recorded("warehouse_products_page1"), recorded("warehouse_products_page2"))
    since = dt.datetime(2026, 11, 2, 10, 58, 30, 750_000, tzinfo=dt.timezone(dt.timedelta(hours=1)))

    pages = list(fake.adapter().positions(changed_since=since))

    assert ShipHeroAdapter.reads_changed_positions is True
    assert [request["variables"] for request in fake.requests] == [
        {"first": 50, "after": None, "bins": 20, "updated_from": "2026-11-02T09:58:30+00:00"},
        {"first": 50, "after": "YXJyYXljb25uZWN0aW9uOjE=", "bins": 20, "updated_from": "2026-11-02T09:58:30+00:00"},
    ]
    assert sum(len(page.records) for page in pages) == 7


def test_sandbox_positions_changed_since_are_the_products_updated_since_with_all_their_stocked_bins():
    scenario = load_scenario("two-stores-and-an-fc")
    sim = Simulation(scenario)
    sim.advance_to(scenario.start + dt.timedelta(hours=12))
    since = sim.world.now - dt.timedelta(hours=1)
    time = SimulatedTime()
    app = SandboxApp(sim.world, apis={"shiphero": ShipHeroApi(sim.world, clock=time.clock)})
    config = ConnectorConfig(
        name="ShipHero",
        base_url="http://sandbox/shiphero",
        credentials={"access_token": sim.world.credentials.shiphero_access_token},
    )
    adapter = ShipHeroAdapter(config, transport=sandbox_transport(app), sleep=time.sleep, clock=time.clock)

    records = [r for page in adapter.positions(changed_since=since) for r in page.records]

    changed = [p for p in sim.world.wms_products.values() if p.updated_at >= since.replace(microsecond=0)]
    expected = {}
    for p in changed:
        warehouse = b64(f"Warehouse:{sim.world.locations[p.location].shiphero_id}")
        expected[(warehouse, p.sku, "")] = (p.on_hand, p.allocated, p.available)
        for name, quantity in p.bins.items():
            if quantity:
                expected[(warehouse, p.sku, name)] = (quantity, 0, 0 if name in p.non_sellable_bins else quantity)
    assert 0 < len(changed) < len(sim.world.wms_products)
    assert {(r.external_location_id, r.sku, r.bin): (r.on_hand, r.allocated, r.available) for r in records} == expected
