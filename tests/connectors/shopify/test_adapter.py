from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, build_schema, get_operation_ast, parse, validate

from inventory_hub.connectors.base import (
    ConnectorConfig,
    OrderLineRecord,
    PermanentConnectorError,
    TransientConnectorError,
)
from inventory_hub.connectors.shopify.adapter import QUERIES, ShopifyAdapter
from inventory_hub.sandbox.scenario import load_scenario
from inventory_hub.sandbox.shopify import ShopifyApi
from inventory_hub.sandbox.shopify.cost import QueryCost
from inventory_hub.sandbox.simulation import Simulation
from inventory_hub.sandbox.wsgi import SandboxApp, sandbox_transport

RESPONSES = Path(__file__).parent / "responses"
SDL = Path(__file__).parents[2] / "fixtures" / "shopify" / "shopify_admin_2025-04.graphql"
TOKEN = "shpat_test_token"
GRAPHQL_PATH = "/admin/api/2025-04/graphql.json"
BROOKLYN = "gid://shopify/Location/124656943"
MANHATTAN = "gid://shopify/Location/124656944"
SENT_DOCUMENTS = {document for document, _ in QUERIES.values()}
_OPERATION = re.compile(r"^\s*query (\w+)")


def _response(name: str) -> Any:
    return json.loads((RESPONSES / name).read_text())


@dataclasses.dataclass
class Clock:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 0.0
    sleeps: list[float] = dataclasses.field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclasses.dataclass
class Step:
    """One expected request (operation and variables) and what Shopify answers."""

    operation: str
    variables: dict[str, Any]
    answer: httpx.Response | Exception


class FakeShopify:
    """A MockTransport handler that checks each request against a script and answers from it."""

    def __init__(self, *steps: Step) -> None:
        self.steps = collections.deque(steps)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.path == GRAPHQL_PATH
        assert request.headers["X-Shopify-Access-Token"] == TOKEN
        body = json.loads(request.content)
        assert body["query"] in SENT_DOCUMENTS
        operation = _OPERATION.match(body["query"])[1]
        self.requests.append((operation, body["variables"]))
        step = self.steps.popleft()
        assert (operation, body["variables"]) == (step.operation, step.variables)
        if isinstance(step.answer, Exception):
            raise step.answer
        return step.answer


def _ok(name: str) -> httpx.Response:
    return httpx.Response(200, json=_response(name))


def _adapter(fake: FakeShopify, clock: Clock, **options: Any) -> ShopifyAdapter:
    config = ConnectorConfig(
        name="Shop", base_url="https://acme.myshopify.com", credentials={"access_token": TOKEN}, options=options
    )
    return ShopifyAdapter(config, transport=httpx.MockTransport(fake), sleep=clock.sleep, clock=clock)


LOCATIONS = Step("Locations", {"after": None}, _ok("locations.json"))
LEVELS_P2 = Step(
    "LevelsAtLocation",
    {"locationId": BROOKLYN, "after": "eyJsYXN0X2lkIjozMDMyMjY5NiwibGFzdF92YWx1ZSI6MzAzMjI2OTZ9"},
    _ok("levels_page2.json"),
)
OTHER_LOCATION = Step("LevelsAtLocation", {"locationId": MANHATTAN, "after": None}, _ok("levels_other_location.json"))


def _levels_p1(answer: httpx.Response | Exception | None = None) -> Step:
    return Step("LevelsAtLocation", {"locationId": BROOKLYN, "after": None}, answer or _ok("levels_page1.json"))


# --- the documents -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shopify_schema() -> GraphQLSchema:
    return build_schema(SDL.read_text())


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_document_validates_against_shopifys_schema(shopify_schema, name):
    document = parse(QUERIES[name][0])

    errors = validate(shopify_schema, document)

    assert errors == []


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_documents_requested_cost_is_as_priced_by_shopifys_rule_and_about_half_the_limit(shopify_schema, name):
    document_text, expected_cost = QUERIES[name]
    document = parse(document_text)

    cost = QueryCost(shopify_schema, get_operation_ast(document), {}, {}).requested()

    assert cost == expected_cost
    assert cost <= 500


# --- positions -------------------------------------------------------------------------------------


def test_positions_follow_the_cursor_and_yield_every_level_once():
    fake = FakeShopify(LOCATIONS, _levels_p1(), LEVELS_P2, OTHER_LOCATION)

    pages = list(_adapter(fake, Clock()).positions())

    assert [[(r.external_location_id, r.sku) for r in page.records] for page in pages] == [
        [(BROOKLYN, "TEE-BLK-M"), (BROOKLYN, "TEE-BLK-L")],
        [(BROOKLYN, "MUG-WHT")],
        [(MANHATTAN, "TEE-BLK-M")],
    ]
    assert [page.cursor for page in pages] == [None, None, None]
    assert not fake.steps


def test_waits_for_retry_after_on_http_429_then_succeeds():
    throttled = httpx.Response(429, headers={"Retry-After": "2.0"}, json={"errors": "Exceeded 2 calls per second"})
    fake = FakeShopify(LOCATIONS, _levels_p1(throttled), _levels_p1(), LEVELS_P2, OTHER_LOCATION)
    clock = Clock()

    pages = list(_adapter(fake, clock).positions())

    assert clock.sleeps == [2.0]
    assert sum(len(page.records) for page in pages) == 4


def test_waits_for_the_bucket_to_refill_after_throttled_then_succeeds():
    fake = FakeShopify(LOCATIONS, _levels_p1(_ok("throttled.json")), _levels_p1(), LEVELS_P2, OTHER_LOCATION)
    clock = Clock()

    pages = list(_adapter(fake, clock).positions())

    # (requestedQueryCost 303 − currentlyAvailable 63) / restoreRate 50
    assert clock.sleeps == [4.8]
    assert sum(len(page.records) for page in pages) == 4


def test_gives_up_after_repeated_throttling_with_a_transient_error():
    throttled = [_levels_p1(_ok("throttled.json")) for _ in range(6)]
    fake = FakeShopify(LOCATIONS, *throttled)
    clock = Clock()

    with pytest.raises(TransientConnectorError) as excinfo:
        list(_adapter(fake, clock).positions())

    assert str(excinfo.value) == "Shopify is throttling GraphQL queries (cost bucket empty)."
    assert excinfo.value.retry_after == 4.8
    assert clock.sleeps == [4.8] * 5


def test_paces_the_next_query_by_the_cost_bucket_instead_of_being_throttled():
    fake = FakeShopify(LOCATIONS, _levels_p1(_ok("levels_page1_bucket_nearly_empty.json")), LEVELS_P2, OTHER_LOCATION)
    clock = Clock()

    list(_adapter(fake, clock).positions())

    # 3 points left, the next page costs 303, the bucket refills at 50 a second
    assert clock.sleeps == [6.0]
    assert [operation for operation, _ in fake.requests] == ["Locations", *["LevelsAtLocation"] * 3]


def test_pacing_counts_what_the_bucket_refilled_while_the_caller_worked():
    fake = FakeShopify(LOCATIONS, _levels_p1(_ok("levels_page1_bucket_nearly_empty.json")), LEVELS_P2, OTHER_LOCATION)
    clock = Clock()
    pages = _adapter(fake, clock).positions()
    next(pages)

    clock.now += 4.0  # the pipeline stored the first page meanwhile: 200 points came back
    list(pages)

    assert clock.sleeps == [2.0]


def test_rejected_token_is_a_permanent_error():
    fake = FakeShopify(Step("Locations", {"after": None}, httpx.Response(401, json=_response("unauthorized.json"))))

    with pytest.raises(PermanentConnectorError) as excinfo:
        _adapter(fake, Clock()).locations()

    assert str(excinfo.value) == "Shopify rejected the credentials (HTTP 401)."
    assert len(fake.requests) == 1


def test_missing_access_token_is_a_permanent_error_without_any_request():
    fake = FakeShopify()
    config = ConnectorConfig(name="Shop", base_url="https://acme.myshopify.com", credentials={})
    adapter = ShopifyAdapter(config, transport=httpx.MockTransport(fake))

    with pytest.raises(PermanentConnectorError) as excinfo:
        adapter.locations()

    assert str(excinfo.value) == "Shopify connector 'Shop' has no access_token credential."
    assert fake.requests == []


def test_access_denied_inside_a_200_is_a_permanent_error_naming_the_message():
    fake = FakeShopify(Step("Locations", {"after": None}, _ok("access_denied.json")))

    with pytest.raises(PermanentConnectorError) as excinfo:
        _adapter(fake, Clock()).locations()

    assert str(excinfo.value) == (
        "Shopify refused the query: Access denied for locations field. "
        "Required access: `read_locations` access scope. (ACCESS_DENIED)"
    )
    assert len(fake.requests) == 1


def test_a_malformed_level_is_a_permanent_error_naming_the_field():
    body = _response("levels_page1.json")
    del body["data"]["location"]["inventoryLevels"]["nodes"][1]["quantities"]
    fake = FakeShopify(LOCATIONS, _levels_p1(httpx.Response(200, json=body)))

    with pytest.raises(PermanentConnectorError) as excinfo:
        list(_adapter(fake, Clock()).positions())

    assert str(excinfo.value) == "Shopify response: data.location.inventoryLevels.nodes[1].quantities is missing"


def test_a_quantity_sent_as_a_string_is_a_permanent_error_naming_the_field():
    body = _response("levels_page1.json")
    body["data"]["location"]["inventoryLevels"]["nodes"][0]["quantities"][0]["quantity"] = "7"
    fake = FakeShopify(LOCATIONS, _levels_p1(httpx.Response(200, json=body)))

    with pytest.raises(PermanentConnectorError) as excinfo:
        list(_adapter(fake, Clock()).positions())

    assert str(excinfo.value) == (
        "Shopify response: data.location.inventoryLevels.nodes[0].quantities[0].quantity is not an integer"
    )


def test_a_timeout_is_retried_and_then_succeeds():
    fake = FakeShopify(LOCATIONS, _levels_p1(httpx.ReadTimeout("timed out")), _levels_p1(), LEVELS_P2, OTHER_LOCATION)
    clock = Clock()

    pages = list(_adapter(fake, clock).positions())

    assert sum(len(page.records) for page in pages) == 4
    assert len(fake.requests) == 5
    assert len(clock.sleeps) == 1  # HttpClient's backoff (with jitter) before the second attempt


def test_an_internal_error_inside_a_200_is_retried_then_succeeds():
    fake = FakeShopify(
        LOCATIONS, _levels_p1(_ok("internal_server_error.json")), _levels_p1(), LEVELS_P2, OTHER_LOCATION
    )
    clock = Clock()

    pages = list(_adapter(fake, clock).positions())

    assert clock.sleeps == [1.0]
    assert sum(len(page.records) for page in pages) == 4


def test_a_persistent_internal_error_is_a_transient_error():
    fake = FakeShopify(LOCATIONS, *[_levels_p1(_ok("internal_server_error.json")) for _ in range(3)])
    clock = Clock()

    with pytest.raises(TransientConnectorError) as excinfo:
        list(_adapter(fake, clock).positions())

    assert str(excinfo.value).startswith(
        "Shopify had an internal error: Internal error. Looks like something went wrong"
    )
    assert clock.sleeps == [1.0, 2.0]
    assert len(fake.requests) == 4


# --- orders and events -------------------------------------------------------------------------------


ORDERS_P2_AFTER = "eyJsYXN0X2lkIjo1NTAxLCJsYXN0X3ZhbHVlIjoiMjAyNC0wNS0wMVQxMDowNTowMC4wMDAwMDBaIn0="


def test_orders_follow_the_cursor_and_resume_from_the_last_created_at():
    since = "2024-05-01T09:00:00Z"
    search = "created_at:>='2024-05-01T09:00:00Z'"
    fake = FakeShopify(
        Step("Orders", {"after": None, "query": search}, _ok("orders_page1.json")),
        Step("Orders", {"after": ORDERS_P2_AFTER, "query": search}, _ok("orders_page2.json")),
    )

    pages = list(_adapter(fake, Clock()).orders(since=since))

    assert [[o.source_order_id for o in page.records] for page in pages] == [
        ["gid://shopify/Order/5500", "gid://shopify/Order/5501"],
        ["gid://shopify/Order/5502"],
    ]
    assert [page.cursor for page in pages] == ["2024-05-01T10:05:00Z", "2024-05-01T11:15:30Z"]
    assert not fake.steps


def test_orders_without_a_cursor_read_from_the_beginning():
    fake = FakeShopify(Step("Orders", {"after": None, "query": None}, _ok("orders_page2.json")))

    pages = list(_adapter(fake, Clock()).orders(since=None))

    assert [page.cursor for page in pages] == ["2024-05-01T11:15:30Z"]


def test_orders_without_a_cursor_start_at_the_history_start_option():
    search = "created_at:>='2024-04-01T00:00:00Z'"
    fake = FakeShopify(Step("Orders", {"after": None, "query": search}, _ok("orders_empty.json")))
    history_start = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)

    pages = list(_adapter(fake, Clock(), history_start=history_start).orders(since=None))

    assert [(page.records, page.cursor) for page in pages] == [((), "2024-04-01T00:00:00Z")]


def test_an_empty_orders_page_keeps_the_cursor():
    search = "created_at:>='2024-05-01T11:15:30Z'"
    fake = FakeShopify(Step("Orders", {"after": None, "query": search}, _ok("orders_empty.json")))

    pages = list(_adapter(fake, Clock()).orders(since="2024-05-01T11:15:30Z"))

    assert [(page.records, page.cursor) for page in pages] == [((), "2024-05-01T11:15:30Z")]


def test_a_big_order_is_completed_with_follow_up_queries():
    order_id = "gid://shopify/Order/5600"
    fake = FakeShopify(
        Step("Orders", {"after": None, "query": None}, _ok("orders_big_order.json")),
        Step("OrderLines", {"id": order_id, "after": None}, _ok("order_lines.json")),
        Step("OrderFulfillmentOrders", {"id": order_id, "after": None}, _ok("order_fulfillment_orders.json")),
        Step(
            "FulfillmentOrderLines",
            {"id": "gid://shopify/FulfillmentOrder/7101", "after": None},
            _ok("fulfillment_order_lines.json"),
        ),
    )

    pages = list(_adapter(fake, Clock()).orders(since=None))

    (order,) = pages[0].records
    assert len(order.lines) == 46
    assert order.lines[:4] == (
        OrderLineRecord("gid://shopify/LineItem/9101", BROOKLYN, "SKU-01", 1),
        OrderLineRecord("gid://shopify/LineItem/9102", BROOKLYN, "SKU-02", 1),
        OrderLineRecord("gid://shopify/LineItem/9103", BROOKLYN, "SKU-03", 1),
        OrderLineRecord("gid://shopify/LineItem/9104", MANHATTAN, "SKU-04", 1),
    )
    assert {line.external_location_id for line in order.lines[3:45]} == {MANHATTAN}
    assert order.lines[45] == OrderLineRecord("gid://shopify/LineItem/9146", BROOKLYN, "SKU-46", 1)
    assert not fake.steps


def test_shopify_has_no_readable_adjustment_history_so_no_events():
    fake = FakeShopify()

    pages = list(_adapter(fake, Clock()).events(since=None))

    assert pages == []
    assert fake.requests == []


def test_the_api_version_comes_from_the_options():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return _ok("locations.json")

    config = ConnectorConfig(
        name="Shop",
        base_url="https://acme.myshopify.com",
        credentials={"access_token": TOKEN},
        options={"api_version": "2025-07"},
    )

    ShopifyAdapter(config, transport=httpx.MockTransport(handler)).locations()

    assert seen == ["/admin/api/2025-07/graphql.json"]


# --- end to end, against the sandbox ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> tuple[Simulation, ShopifyAdapter, Clock]:
    scenario = load_scenario("two-stores-and-an-fc")
    sim = Simulation(scenario)
    sim.advance_to(scenario.start + dt.timedelta(days=1))
    # The sandbox's cost bucket and the adapter share one clock that moves only when the adapter
    # sleeps, so pacing is exercised for real without the test waiting for it.
    clock = Clock()
    app = SandboxApp(sim.world, apis={"shopify": ShopifyApi(sim.world, clock=clock)})
    config = ConnectorConfig(
        name="Shopify",
        base_url="http://sandbox/shopify",
        credentials={"access_token": sim.world.credentials.shopify_access_token},
    )
    return sim, ShopifyAdapter(config, transport=sandbox_transport(app), sleep=clock.sleep, clock=clock), clock


def test_positions_from_the_sandbox_equal_its_shop_levels(sandbox):
    sim, adapter, _ = sandbox
    world = sim.world

    records = [record for page in adapter.positions() for record in page.records]

    expected = {
        (f"gid://shopify/Location/{world.locations[code].shopify_id}", sku): (
            level.quantities["on_hand"],
            level.quantities["committed"] + level.quantities["reserved"],
            level.quantities["available"],
            level.quantities["incoming"],
            # The stamp of the available quantity, which the hub compares.
            level.quantity_updated_at["available"].replace(microsecond=0),
        )
        for (code, sku), level in world.shop_levels.items()
    }
    actual = {
        (r.external_location_id, r.sku): (r.on_hand, r.allocated, r.available, r.incoming, r.as_of) for r in records
    }
    assert len(records) == len(actual)
    assert actual == expected


def test_orders_from_the_sandbox_equal_its_shop_orders(sandbox):
    sim, adapter, clock = sandbox
    world = sim.world

    pages = list(adapter.orders(since=None))

    expected = [
        (
            f"gid://shopify/Order/{order.legacy_id}",
            order.name,
            order.channel,
            order.created_at.replace(microsecond=0),
            tuple(
                (
                    f"gid://shopify/LineItem/{line.legacy_id}",
                    f"gid://shopify/Location/{world.locations[line.location].shopify_id}",
                    line.sku,
                    line.quantity,
                )
                for line in sorted(order.lines, key=lambda line: line.legacy_id)
            ),
        )
        for order in sorted(world.shop_orders, key=lambda o: (o.created_at, o.legacy_id))
    ]
    actual = [
        (
            o.source_order_id,
            o.name,
            o.channel,
            o.placed_at,
            tuple((li.source_line_id, li.external_location_id, li.sku, li.quantity) for li in o.lines),
        )
        for page in pages
        for o in page.records
    ]
    assert actual == expected
    assert len(pages) > 1
    assert clock.sleeps  # a day of orders outruns the bucket: the adapter paced itself


def test_orders_since_the_last_cursor_from_the_sandbox_start_there(sandbox):
    sim, adapter, _ = sandbox
    cursor = list(adapter.orders(since=None))[-1].cursor
    assert cursor is not None

    pages = list(adapter.orders(since=cursor))

    resumed_at = dt.datetime.fromisoformat(cursor)
    expected = sorted(
        f"gid://shopify/Order/{o.legacy_id}"
        for o in sim.world.shop_orders
        if o.created_at.replace(microsecond=0) >= resumed_at
    )
    assert sorted(o.source_order_id for page in pages for o in page.records) == expected
    assert expected  # at least the last order itself (the cursor overlaps by design)
    assert all(page.cursor == cursor for page in pages)
