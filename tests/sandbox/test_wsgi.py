from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import sys
import threading
import time
import types
from typing import Any

import httpx
import pytest

from inventory_hub.sandbox import server, wsgi
from inventory_hub.sandbox.faults import FaultPlan
from inventory_hub.sandbox.http import Request, Response
from inventory_hub.sandbox.truth import TrueEvent, TrueOversell
from inventory_hub.sandbox.world import World
from inventory_hub.sandbox.wsgi import (
    LocationTotals,
    SandboxApp,
    sandbox_client,
    sandbox_transport,
    world_status,
)
from tests.sandbox.worlds import T0, small_world


class FakeApi:
    """A product API that echoes what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return Response.json({"system": self.name, "path": request.path})


def fake_apis() -> dict[str, FakeApi]:
    return {name: FakeApi(name) for name in ("shopify", "shiphero", "erpnext")}


def call(app: SandboxApp, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=dict(headers))

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def environ_for(path_info: str, **extra: Any) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path_info, "QUERY_STRING": "", "wsgi.input": io.BytesIO(b""), **extra}


# --- Routing ------------------------------------------------------------------------------------


def test_routes_each_prefix_to_its_system_with_the_rest_of_the_path() -> None:
    apis = fake_apis()
    app = SandboxApp(small_world(), apis=apis)
    transport = sandbox_transport(app)

    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        answers = [
            client.post("/shopify/admin/api/2025-04/graphql.json").json(),
            client.post("/shiphero/graphql").json(),
            client.get("/erpnext/api/method/frappe.auth.get_logged_user").json(),
            client.get("/erpnext").json(),
        ]

    assert answers == [
        {"system": "shopify", "path": "/admin/api/2025-04/graphql.json"},
        {"system": "shiphero", "path": "/graphql"},
        {"system": "erpnext", "path": "/api/method/frappe.auth.get_logged_user"},
        {"system": "erpnext", "path": "/"},
    ]


def test_decodes_percent_encoded_paths_so_erpnext_doctypes_keep_their_spaces() -> None:
    apis = fake_apis()
    app = SandboxApp(small_world(), apis=apis)

    with sandbox_client(app, "erpnext") as client:
        response = client.get("/api/resource/Stock%20Ledger%20Entry", params={"limit_page_length": "20"})

    assert response.json() == {"system": "erpnext", "path": "/api/resource/Stock Ledger Entry"}
    assert apis["erpnext"].requests[0].query == {"limit_page_length": ["20"]}


def test_decodes_utf8_paths_from_a_pep3333_server() -> None:
    apis = fake_apis()
    app = SandboxApp(small_world(), apis=apis)
    path_info = "/erpnext/api/resource/Warehouse/Entrepôt - ACME".encode().decode("latin-1")

    status, _, body = call(app, environ_for(path_info))

    assert status == "200 OK"
    assert json.loads(body)["path"] == "/api/resource/Warehouse/Entrepôt - ACME"


def test_passes_method_query_headers_and_exactly_content_length_bytes_of_body() -> None:
    apis = fake_apis()
    app = SandboxApp(small_world(), apis=apis)
    environ = environ_for(
        "/shiphero/graphql",
        REQUEST_METHOD="POST",
        QUERY_STRING="a=1&a=2&b=",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH="13",
        HTTP_AUTHORIZATION="Bearer t",
        HTTP_X_REQUEST_ID="r-1",
        **{"wsgi.input": io.BytesIO(b'{"query":"q"}TRAILING')},
    )

    call(app, environ)

    request = apis["shiphero"].requests[0]
    assert request == Request(
        method="POST",
        path="/graphql",
        query={"a": ["1", "2"], "b": [""]},
        headers={
            "authorization": "Bearer t",
            "x-request-id": "r-1",
            "content-type": "application/json",
            "content-length": "13",
        },
        body=b'{"query":"q"}',
    )


def test_unknown_prefix_is_a_404_that_calls_no_api() -> None:
    apis = fake_apis()
    app = SandboxApp(small_world(), apis=apis)

    status, headers, body = call(app, environ_for("/odoo/jsonrpc"))

    assert (status, body) == ("404 Not Found", b"Not Found")
    assert headers["Content-Length"] == "9"
    assert [api.requests for api in apis.values()] == [[], [], []]


def test_healthz_answers_ok() -> None:
    app = SandboxApp(small_world(), apis=fake_apis())

    status, headers, body = call(app, environ_for("/healthz"))

    assert (status, headers["Content-Type"], body) == ("200 OK", "text/plain; charset=utf-8", b"ok")


def test_builds_the_product_api_lazily_on_first_request(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[World] = []

    class LazyApi(FakeApi):
        def __init__(self, world: World) -> None:
            super().__init__("lazy")
            built.append(world)

    module = types.ModuleType("fake_shiphero")
    module.LazyApi = LazyApi  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_shiphero", module)
    monkeypatch.setitem(wsgi.PRODUCT_APIS, "shiphero", ("fake_shiphero", "LazyApi"))
    world = small_world()
    app = SandboxApp(world)

    call(app, environ_for("/shiphero/graphql"))
    call(app, environ_for("/shiphero/graphql"))

    assert built == [world]


# --- Status page and truth ---------------------------------------------------------------------


def test_status_page_sums_each_systems_quantities_per_location() -> None:
    world = small_world()

    status = world_status(world)

    assert status.locations == (
        LocationTotals("FC-1", "Fulfillment Center", 128, 117, 126.0, 120),
        LocationTotals("STORE-B", "Store B", 128, 117, 126.0, 120),
    )
    assert (status.wms_events, status.erp_syncs, status.orders, status.oversells) == (0, 6, 3, 0)


def test_status_page_renders_the_true_totals_time_scenario_and_counts() -> None:
    world = small_world()
    world.truth.events.append(TrueEvent("wms-000001", "pick", "STORE-B", "SKU-0001", "FLOOR", -1, 0, 40, 39, T0, 17))
    world.truth.oversells.append(
        TrueOversell(90_001, 95_001, "STORE-B", "SKU-0001", 2, T0, 3, 1, "wms-000001", "wms_erp", "erp_lag")
    )
    app = SandboxApp(world, apis=fake_apis())

    status, headers, body = call(app, environ_for("/"))

    page = body.decode()
    assert (status, headers["Content-Type"]) == ("200 OK", "text/html; charset=utf-8")
    assert (
        '<tr><td>FC-1</td><td>Fulfillment Center</td><td class="n">128</td><td class="n">117</td>'
        '<td class="n diff">126</td><td class="n diff">120</td></tr>'
    ) in page
    assert "Scenario <strong>small</strong> · seed 1" in page
    assert "2026-11-02 10:00:00 UTC" in page
    assert "<dt>WMS events</dt><dd>1</dd>" in page
    assert "<dt>ERP syncs (ledger entries)</dt><dd>6</dd>" in page
    assert "<dt>Storefront orders</dt><dd>3</dd>" in page
    assert '<dt>True oversells</dt><dd class="bad">1</dd>' in page
    assert '<a href="/truth.json">' in page
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "<script" not in page


def test_status_page_renders_twenty_locations_by_two_thousand_skus_quickly() -> None:
    world = big_world(locations=20, skus=2000)
    app = SandboxApp(world, apis=fake_apis())

    started = time.perf_counter()
    status, _, body = call(app, environ_for("/"))
    elapsed = time.perf_counter() - started

    assert status == "200 OK"
    assert body.decode().count("<tr><td>") == 20
    assert elapsed < 1.0


def test_status_page_waits_for_the_world_lock() -> None:
    world = small_world()
    app = SandboxApp(world, apis=fake_apis())
    result: list[str] = []

    with world.lock:
        reader = threading.Thread(target=lambda: result.append(call(app, environ_for("/"))[0]))
        reader.start()
        reader.join(0.2)
        blocked = reader.is_alive()
    reader.join(5)

    assert blocked is True
    assert result == ["200 OK"]


def test_truth_json_is_the_ground_truth_export_with_sorted_keys() -> None:
    world = small_world()
    exported: list[World] = []

    def export(w: World) -> dict[str, Any]:
        exported.append(w)
        return {"seed": w.seed, "now": w.now, "oversells": [], "events": [{"id": "wms-1", "at": T0}]}

    app = SandboxApp(world, apis=fake_apis(), truth_export=export)

    with httpx.Client(transport=sandbox_transport(app), base_url="http://sandbox") as client:
        response = client.get("/truth.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert list(response.json()) == ["events", "now", "oversells", "seed"]
    assert response.json() == {
        "events": [{"at": "2026-11-02T08:00:00+00:00", "id": "wms-1"}],
        "now": "2026-11-02T10:00:00+00:00",
        "oversells": [],
        "seed": 1,
    }
    assert exported == [world]


# --- Faults through the app and httpx ----------------------------------------------------------


def test_applies_faults_per_system_before_dispatch() -> None:
    apis = fake_apis()
    plan = FaultPlan()
    plan.queue("shopify", "5xx", times=1)
    app = SandboxApp(small_world(), plan, apis=apis)

    with sandbox_client(app, "shopify") as shopify, sandbox_client(app, "shiphero") as shiphero:
        first = shopify.post("/admin/api/2025-04/graphql.json")
        other = shiphero.post("/graphql")
        second = shopify.post("/admin/api/2025-04/graphql.json")

    assert [first.status_code, other.status_code, second.status_code] == [503, 200, 200]
    assert len(apis["shopify"].requests) == 1
    assert first.headers["x-request-id"].endswith(f"-{int(dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC).timestamp())}")


def test_httpx_client_reaches_a_fake_api_through_the_sandbox_transport() -> None:
    apis = fake_apis()
    app = SandboxApp(small_world(), apis=apis)

    with sandbox_client(app, "shiphero", headers={"Authorization": "Bearer token"}) as client:
        response = client.post("/graphql", json={"query": "{ account { data { id } } }"})

    assert response.status_code == 200
    assert response.json() == {"system": "shiphero", "path": "/graphql"}
    assert str(client.base_url) == "http://sandbox/shiphero/"
    assert apis["shiphero"].requests[0].headers["authorization"] == "Bearer token"
    assert json.loads(apis["shiphero"].requests[0].body) == {"query": "{ account { data { id } } }"}


def test_timeout_fault_reaches_httpx_as_a_read_timeout() -> None:
    slept: list[float] = []
    plan = FaultPlan(sleep=slept.append, client_timeout=30.0)
    plan.queue("erpnext", "timeout")
    app = SandboxApp(small_world(), plan, apis=fake_apis())

    with sandbox_client(app, "erpnext") as client, pytest.raises(httpx.ReadTimeout):
        client.get("/api/resource/Bin")

    assert slept == [31.0]


def test_dropped_connection_reaches_httpx_as_a_remote_protocol_error() -> None:
    plan = FaultPlan()
    plan.queue("shiphero", "disconnect")
    apis = fake_apis()
    app = SandboxApp(small_world(), plan, apis=apis)

    with sandbox_client(app, "shiphero") as client, pytest.raises(httpx.RemoteProtocolError):
        client.post("/graphql")

    assert apis["shiphero"].requests == []


def test_rejects_a_client_for_an_unknown_system() -> None:
    app = SandboxApp(small_world(), apis=fake_apis())

    with pytest.raises(ValueError, match="unknown system 'odoo'"):
        sandbox_client(app, "odoo")


@pytest.mark.parametrize(
    ("system", "method", "path", "status"),
    [
        ("shopify", "POST", "/admin/api/2025-04/graphql.json", 401),
        ("shiphero", "POST", "/graphql", 401),
        ("erpnext", "GET", "/api/resource/Bin", 403),  # Frappe treats a request without a key as Guest
    ],
)
def test_routes_an_unauthenticated_request_to_each_real_product_api(
    system: str, method: str, path: str, status: int
) -> None:
    app = SandboxApp(small_world())

    with sandbox_client(app, system) as client:
        response = client.request(method, path, json={"query": "{ __typename }"} if method == "POST" else None)

    assert response.status_code == status


# --- Serving: pacing, days, loopback ---------------------------------------------------------


class FakeSimulation:
    def __init__(self, world: World) -> None:
        self.world = world
        self.advanced: list[dt.datetime] = []

    def advance_to(self, t: dt.datetime) -> None:
        with self.world.lock:
            self.world.now = t
        self.advanced.append(t)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_advances_the_simulation_by_speed_times_real_time_elapsed() -> None:
    simulation = FakeSimulation(small_world())
    clock = FakeClock()
    pacer = server.Pacer(simulation, speed=60.0, clock=clock)

    clock.now += 0.5
    pacer.tick()
    clock.now += 2.0
    pacer.tick()

    start = dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)
    assert simulation.advanced == [start + dt.timedelta(seconds=30), start + dt.timedelta(seconds=150)]


def test_pacer_runs_in_steps_until_stopped() -> None:
    simulation = FakeSimulation(small_world())
    clock = FakeClock()
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock.now += seconds
        return len(waits) > 3  # stopped during the fourth wait

    pacer = server.Pacer(simulation, speed=4.0, step_seconds=0.25, clock=clock, wait=wait)

    pacer.run()

    start = dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)
    assert waits == [0.25, 0.25, 0.25, 0.25]
    assert simulation.advanced == [start + dt.timedelta(seconds=s) for s in (1, 2, 3)]


def test_advance_days_runs_the_simulation_to_the_end_in_steps() -> None:
    simulation = FakeSimulation(small_world())

    end = server.advance_days(simulation, 2.5)

    start = dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)
    assert end == start + dt.timedelta(days=2.5)
    assert simulation.advanced == [start + dt.timedelta(days=d) for d in (1, 2, 2.5)]


def test_refuses_to_serve_beyond_loopback() -> None:
    app = SandboxApp(small_world(), apis=fake_apis())

    with pytest.raises(ValueError, match="loopback only"):
        server.make_server(app, "0.0.0.0", 0)  # noqa: S104 - the address being refused


def test_serves_over_loopback_and_drops_the_connection_on_a_disconnect_fault() -> None:
    plan = FaultPlan()
    plan.queue("shiphero", "disconnect")
    app = SandboxApp(small_world(), plan, apis=fake_apis())
    httpd = server.make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=server.base_url(httpd), timeout=5) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.post("/shiphero/graphql")
            after = client.post("/shiphero/graphql")
            health = client.get("/healthz")
    finally:
        httpd.shutdown()
        httpd.server_close()

    assert after.json() == {"system": "shiphero", "path": "/graphql"}
    assert health.text == "ok"


def test_banner_lists_each_systems_base_url_and_the_credentials() -> None:
    world = small_world()

    lines = server.banner(world, "http://127.0.0.1:8100")

    assert (
        "  shopify      http://127.0.0.1:8100/shopify   (e.g. http://127.0.0.1:8100/shopify/admin/api/2025-04/graphql.json)"
        in lines
    )
    assert (
        "  erpnext      http://127.0.0.1:8100/erpnext   (e.g. http://127.0.0.1:8100/erpnext/api/resource/Bin)" in lines
    )
    assert "    shopify_access_token = shpat_sandbox_token" in lines
    assert "    erpnext_api_secret = sandbox-secret" in lines


def big_world(*, locations: int, skus: int) -> World:
    """`small_world`'s rows for `skus` SKUs, copied to `locations` locations."""
    base = small_world(skus=skus)
    template = base.locations["FC-1"]
    codes = [f"LOC-{n:02d}" for n in range(1, locations + 1)]
    base.locations = {code: dataclasses.replace(template, code=code, name=f"Site {code}") for code in codes}
    for attr in ("wms_products", "erp_bins", "shop_levels"):
        rows = {sku: row for (loc, sku), row in getattr(base, attr).items() if loc == "FC-1"}
        setattr(base, attr, {(code, sku): row for code in codes for sku, row in rows.items()})
    return base
