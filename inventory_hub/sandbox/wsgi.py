"""The sandbox as one WSGI app: the three products' APIs under /shopify, /shiphero and /erpnext, a
status page at /, the ground truth at /truth.json and /healthz.

`sandbox_client(app, "shopify")` gives an httpx client that reaches the app in-process (no socket),
so tests and backfills drive the hub's real adapters against the sandbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import importlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import httpx

from inventory_hub.sandbox.faults import SYSTEMS, DroppedConnection, FaultPlan, SimulatedTimeout
from inventory_hub.sandbox.http import ProductApi, Request, Response
from inventory_hub.sandbox.world import World

# Imported on first use: the product modules are optional for the status page and the tests.
PRODUCT_APIS: dict[str, tuple[str, str]] = {
    "shopify": ("inventory_hub.sandbox.shopify", "ShopifyApi"),
    "shiphero": ("inventory_hub.sandbox.shiphero", "ShipHeroApi"),
    "erpnext": ("inventory_hub.sandbox.erpnext", "ErpNextApi"),
}

StartResponse = Callable[..., Any]
TruthExport = Callable[[World], dict[str, Any]]


class SandboxApp:
    """WSGI callable routing by path prefix to each product's API, with faults applied per system."""

    def __init__(
        self,
        world: World,
        faults: FaultPlan | None = None,
        *,
        apis: Mapping[str, ProductApi] | None = None,
        truth_export: TruthExport | None = None,
        refresh_seconds: int = 5,
    ) -> None:
        for system in apis or {}:
            if system not in SYSTEMS:
                raise ValueError(f"unknown system {system!r}")
        self.world = world
        self.faults = faults
        self.refresh_seconds = refresh_seconds
        self._apis: dict[str, ProductApi] = dict(apis or {})
        self._truth_export = truth_export
        self._lock = threading.Lock()

    def api(self, system: str) -> ProductApi:
        """The product API serving `system`, built on first use."""
        with self._lock:
            if system not in self._apis:
                module_name, class_name = PRODUCT_APIS[system]
                api_class = getattr(importlib.import_module(module_name), class_name)
                self._apis[system] = api_class(self.world)
            return self._apis[system]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.respond(environ)
        body = response.body if environ.get("REQUEST_METHOD", "GET").upper() != "HEAD" else b""
        headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(response.body))))
        start_response(_status_line(response.status), headers)
        return [body]

    def respond(self, environ: dict[str, Any]) -> Response:
        """The `Response` for one WSGI request (may raise a `FaultInterrupt`)."""
        path = _decoded_path(environ.get("PATH_INFO", "") or "/")
        if path == "/":
            return self.status_page()
        if path == "/healthz":
            return Response(200, b"ok", [("Content-Type", "text/plain; charset=utf-8")])
        if path == "/truth.json":
            return self.truth()
        system, _, rest = path[1:].partition("/")
        if system not in SYSTEMS:
            return Response(404, b"Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        request = _build_request(environ, "/" + rest)
        handler = self.api(system).handle
        if self.faults is None:
            return handler(request)
        with self.world.lock:
            now = self.world.now
        return self.faults.apply(system, request, handler, now=now)

    def truth(self) -> Response:
        """The ground truth as JSON (sorted keys, stable across runs)."""
        export = self._truth_export or _default_truth_export()
        with self.world.lock:
            payload = export(self.world)
        return Response(200, dumps_truth(payload).encode(), [("Content-Type", "application/json; charset=utf-8")])

    def status_page(self) -> Response:
        """A small HTML page: the simulated time, per-location totals in each system, counts so far."""
        status = world_status(self.world)
        page = render_status_page(status, refresh_seconds=self.refresh_seconds)
        return Response(
            200, page.encode(), [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
        )


def _default_truth_export() -> TruthExport:
    from inventory_hub.sandbox.export import truth_export

    return truth_export


def dumps_truth(payload: Any) -> str:
    """The one JSON encoding of the ground truth, shared by /truth.json and `sandbox export`."""
    return json.dumps(payload, sort_keys=True, indent=2, default=_json_default, ensure_ascii=False) + "\n"


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _decoded_path(path_info: str) -> str:
    """PATH_INFO as real text. PEP 3333 servers (wsgiref) hand it percent-decoded as latin-1 code points
    of the UTF-8 bytes; httpx's WSGITransport hands it already decoded as text. Decoding it again with
    unquote would turn a literal "%20" in a name into a space, so we only fix the byte encoding."""
    try:
        return path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path_info


def _build_request(environ: dict[str, Any], path: str) -> Request:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    method = str(environ.get("REQUEST_METHOD", "GET"))
    query_string = environ.get("QUERY_STRING", "")
    return Request.build(method, path, query_string=query_string, headers=headers, body=_read_body(environ))


def _read_body(environ: dict[str, Any]) -> bytes:
    """Exactly CONTENT_LENGTH bytes: reading past it would block on a keep-alive socket."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    return environ["wsgi.input"].read(length)


# --- Status page --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class LocationTotals:
    code: str
    name: str
    wms_on_hand: int
    wms_available: int
    erp_actual_qty: float
    shop_available: int


@dataclasses.dataclass(frozen=True, slots=True)
class WorldStatus:
    scenario: str
    seed: int
    now: dt.datetime
    start: dt.datetime
    locations: tuple[LocationTotals, ...]
    wms_events: int
    erp_syncs: int
    orders: int
    oversells: int


def world_status(world: World) -> WorldStatus:
    """Sums per location over SKUs, read in one pass per system under the world's lock."""
    with world.lock:
        on_hand: dict[str, int] = dict.fromkeys(world.locations, 0)
        available: dict[str, int] = dict.fromkeys(world.locations, 0)
        erp: dict[str, float] = dict.fromkeys(world.locations, 0.0)
        shop: dict[str, int] = dict.fromkeys(world.locations, 0)
        for (code, _), product in world.wms_products.items():
            on_hand[code] = on_hand.get(code, 0) + product.on_hand
            available[code] = available.get(code, 0) + product.available
        for (code, _), erp_bin in world.erp_bins.items():
            erp[code] = erp.get(code, 0.0) + erp_bin.actual_qty
        for (code, _), level in world.shop_levels.items():
            shop[code] = shop.get(code, 0) + level.quantities.get("available", 0)
        locations = tuple(
            LocationTotals(code, loc.name, on_hand[code], available[code], erp[code], shop[code])
            for code, loc in world.locations.items()
        )
        return WorldStatus(
            scenario=world.scenario,
            seed=world.seed,
            now=world.now,
            start=world.start,
            locations=locations,
            wms_events=len(world.truth.events),
            erp_syncs=len(world.erp_ledger),
            orders=len(world.shop_orders),
            oversells=len(world.truth.oversells),
        )


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:64rem;color:#1f2933;padding:0 1rem}
h1{font-size:1.3rem;margin:0 0 .25rem}p.meta{color:#52606d;margin:0 0 1.25rem}
dl{display:grid;grid-template-columns:repeat(4,1fr);gap:.75rem;margin:0 0 1.5rem}
dl div{border:1px solid #d9e2ec;border-radius:6px;padding:.5rem .75rem}dt{color:#52606d;font-size:.8rem}
dd{margin:0;font-size:1.3rem;font-variant-numeric:tabular-nums}dd.bad{color:#b42318}
table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;border-bottom:1px solid #e4e7eb}
th{text-align:left;font-weight:600;color:#3e4c59}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.diff{color:#b42318}a{color:#0b69a3}
"""


def render_status_page(status: WorldStatus, *, refresh_seconds: int = 5) -> str:
    """The status page's HTML; self-contained, no JavaScript."""
    rows = []
    for loc in status.locations:
        erp_cell = _number(loc.erp_actual_qty)
        erp_class = "n diff" if loc.erp_actual_qty != loc.wms_on_hand else "n"
        shop_class = "n diff" if loc.shop_available > loc.wms_available else "n"
        rows.append(
            f"<tr><td>{html.escape(loc.code)}</td><td>{html.escape(loc.name)}</td>"
            f'<td class="n">{loc.wms_on_hand}</td><td class="n">{loc.wms_available}</td>'
            f'<td class="{erp_class}">{erp_cell}</td><td class="{shop_class}">{loc.shop_available}</td></tr>'
        )
    rows_html = "\n".join(rows)
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds > 0 else ""
    elapsed = status.now - status.start
    oversell_class = ' class="bad"' if status.oversells else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{refresh}<title>Sandbox retailer · {html.escape(status.scenario)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Sandbox retailer</h1>
<p class="meta">Scenario <strong>{html.escape(status.scenario)}</strong> · seed {status.seed} ·
simulated time <strong><time datetime="{status.now.isoformat()}">{status.now:%Y-%m-%d %H:%M:%S} UTC</time></strong>
({_duration(elapsed)} since start) · <a href="/truth.json">ground truth (truth.json)</a></p>
<dl>
<div><dt>WMS events</dt><dd>{status.wms_events}</dd></div>
<div><dt>ERP syncs (ledger entries)</dt><dd>{status.erp_syncs}</dd></div>
<div><dt>Storefront orders</dt><dd>{status.orders}</dd></div>
<div><dt>True oversells</dt><dd{oversell_class}>{status.oversells}</dd></div>
</dl>
<table>
<thead><tr><th>Location</th><th>Name</th><th class="n">WMS on hand</th><th class="n">WMS available</th>
<th class="n">ERP actual qty</th><th class="n">Storefront available</th></tr></thead>
<tbody>
{rows_html}
</tbody></table>
</body></html>
"""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _duration(delta: dt.timedelta) -> str:
    total = int(delta.total_seconds())
    days, rest = divmod(total, 86_400)
    return f"{days}d {rest // 3600:02d}h{rest % 3600 // 60:02d}m"


# --- In-process httpx access ------------------------------------------------------------------


class _SandboxTransport(httpx.WSGITransport):
    """WSGITransport that turns the sandbox's connection faults into the errors a real network raises."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except SimulatedTimeout as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc


def sandbox_transport(app: SandboxApp) -> httpx.WSGITransport:
    """An httpx transport reaching `app` in-process."""
    return _SandboxTransport(app=app)


def sandbox_client(app: SandboxApp, system: str, **kwargs: Any) -> httpx.Client:
    """An httpx client for one system of the sandbox, e.g. `client.post("/graphql", json=...)`."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; expected one of {', '.join(SYSTEMS)}")
    return httpx.Client(transport=sandbox_transport(app), base_url=f"http://sandbox/{system}", **kwargs)
