"""Fault injection for the sandbox's three systems: latency, 5xx, 429, broken bodies, errors in a 200,
timeouts and dropped connections, each in the product's own shape.

A `FaultPlan` decides, per request and per system, whether the request fails and how. Random faults
come from one seeded `random.Random` per system, so a run is reproducible whatever the other systems'
traffic; `queue()` forces the next N requests of a system to fail one way, for tests.

Timeouts and dropped connections cannot be expressed as a response: `apply()` raises
`SimulatedTimeout` (after sleeping past the client's timeout) or `DroppedConnection`. The WSGI server
in server.py closes the socket without answering; `wsgi.sandbox_transport` turns them into the
httpx exceptions a real network would give (`ReadTimeout`, `RemoteProtocolError`).

Error bodies and where their shapes come from (third-party material, read as reference):
- Shopify 503: an HTML error page, not JSON (Shopify/shopify-app-template-node#1326 shows a 503
  Service Unavailable from the Admin API whose body is the page from github.com/Shopify/error-pages).
- Shopify 429: `{"errors": "Exceeded 2 calls per second for api client. Reduce request rates to
  resume uninterrupted service."}` with `Retry-After: 2.0` (a decimal string), as recorded in many
  client fixtures (e.g. ShopifySharp's tests); GraphQL's own THROTTLED error is shopify.py's business.
- Shopify error in a 200: `errors[0].message` "Internal error. Looks like something went wrong on our
  end.\\nRequest ID: <id> (include this in support requests)." (Shopify/mobile-buy-sdk-android#766,
  Shopify/hydrogen-v1#1917) with `extensions.code` INTERNAL_SERVER_ERROR and `extensions.requestId`.
- ShipHero error in a 200: the Error Glossary's shape (developer.shiphero.com/troubleshooting/
  error-glossary): `{"errors": [{"message", "operation", "field", "request_id" (24 hex), "code"}],
  "data": {"<operation>": null}}` ("GraphQL always answers with HTTP 200 when the query itself is
  valid"). The numeric code for an internal error is not in what we could read: 9 is our guess.
- ShipHero 503 / 429: not documented; we answer like the load balancer in front of an API would
  (an nginx-style HTML 503, a JSON `{"message": "Too Many Requests"}` 429). Clients must not assume
  a JSON body on a 5xx.
- ERPNext (Frappe v15) errors: `frappe/utils/response.py::report_error` returns JSON with `exc_type`
  (the class name) and `exception` (the traceback's last line), plus `_server_messages`, a JSON string
  of a list of JSON strings, when the code called msgprint/throw. 503 is `SessionStopped` (its
  `http_status_code` in `frappe/exceptions.py`, raised by `frappe/app.py` in maintenance mode).
  429: `frappe/rate_limiter.py` answers the text "Too Many Requests" with `Retry-After` and
  `X-RateLimit-Limit/-Remaining/-Reset` headers. An ERPNext error inside a 200 is not something Frappe
  does by itself (custom methods and proxies do): we send a `QueryDeadlockError` body with status 200
  so the hub must classify by body, not status (RELIABILITY.md B6).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Literal

from inventory_hub.sandbox.http import Request, Response

System = Literal["shopify", "shiphero", "erpnext"]
SYSTEMS: tuple[str, ...] = ("shopify", "shiphero", "erpnext")

# The order is also the order of the cumulative draw in `FaultPlan.next_fault`.
FAULT_KINDS: tuple[str, ...] = ("5xx", "429", "malformed", "error_200", "timeout", "disconnect")

DEFAULT_CLIENT_TIMEOUT = 30.0  # the hub's read timeout (RELIABILITY.md: timeout=(5, 30))


class FaultInterrupt(Exception):  # noqa: N818 - not an error of the sandbox, a way to end a request
    """A fault that ends the request without a response."""


class SimulatedTimeout(FaultInterrupt):
    """The system did not answer within the client's timeout."""


class DroppedConnection(FaultInterrupt):
    """The system closed the connection without answering."""


@dataclasses.dataclass(frozen=True, slots=True)
class SystemFaults:
    """Random faults of one system: a fixed latency and the probability of each fault per request."""

    latency: float = 0.0  # seconds slept before every request
    p_5xx: float = 0.0
    p_429: float = 0.0
    p_malformed: float = 0.0
    p_error_200: float = 0.0
    p_timeout: float = 0.0
    p_disconnect: float = 0.0
    retry_after: int = 2  # seconds, for random 429s

    def __post_init__(self) -> None:
        probabilities = self.probabilities()
        if any(p < 0 for p in probabilities) or sum(probabilities) > 1:
            raise ValueError("fault probabilities must be ≥ 0 and sum to at most 1")
        if self.latency < 0:
            raise ValueError("latency must be ≥ 0")

    def probabilities(self) -> tuple[float, ...]:
        return (self.p_5xx, self.p_429, self.p_malformed, self.p_error_200, self.p_timeout, self.p_disconnect)


@dataclasses.dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: its kind and, for 429s and timeouts, how long."""

    kind: str
    retry_after: int = 2
    seconds: float | None = None  # timeout: how long to hang (default: past the client's timeout)


class FaultPlan:
    """Which requests of which system fail, and how. Thread-safe; deterministic for a seed."""

    def __init__(
        self,
        *,
        seed: int = 0,
        systems: dict[str, SystemFaults] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        client_timeout: float = DEFAULT_CLIENT_TIMEOUT,
    ) -> None:
        for system in systems or {}:
            _check_system(system)
        self.seed = seed
        self.sleep = sleep
        self.client_timeout = client_timeout
        self._systems: dict[str, SystemFaults] = {s: (systems or {}).get(s, SystemFaults()) for s in SYSTEMS}
        # One generator per system (string seeds are hashed with SHA-512, stable across processes), so a
        # system's fault sequence does not depend on how requests to the others interleave.
        self._rngs = {s: random.Random(f"{seed}:{s}") for s in SYSTEMS}  # noqa: S311 - simulation, not crypto
        self._id_rngs = {s: random.Random(f"{seed}:{s}:ids") for s in SYSTEMS}  # noqa: S311
        self._queues: dict[str, deque[Fault]] = {s: deque() for s in SYSTEMS}
        self._lock = threading.Lock()

    def configure(self, system: str, **settings: float) -> FaultPlan:
        """Replace some of one system's random-fault settings (see `SystemFaults`)."""
        _check_system(system)
        with self._lock:
            self._systems[system] = dataclasses.replace(self._systems[system], **settings)
        return self

    def settings(self, system: str) -> SystemFaults:
        _check_system(system)
        return self._systems[system]

    def queue(
        self, system: str, kind: str, *, times: int = 1, retry_after: int = 2, seconds: float | None = None
    ) -> None:
        """Make the next `times` requests to `system` fail with `kind`, before any random fault."""
        _check_system(system)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._queues[system].extend(Fault(kind, retry_after, seconds) for _ in range(times))

    def pending(self, system: str) -> int:
        """How many queued faults are left for `system`."""
        _check_system(system)
        with self._lock:
            return len(self._queues[system])

    def next_fault(self, system: str) -> Fault | None:
        """The fault for the next request to `system`: a queued one first, else a random draw."""
        _check_system(system)
        with self._lock:
            if self._queues[system]:
                return self._queues[system].popleft()
            settings = self._systems[system]
            if not any(settings.probabilities()):
                return None  # no draw: adding faults to one system does not shift the others' sequence
            draw = self._rngs[system].random()
        threshold = 0.0
        for kind, probability in zip(FAULT_KINDS, settings.probabilities(), strict=True):
            threshold += probability
            if draw < threshold:
                return Fault(kind, settings.retry_after)
        return None

    def apply(
        self,
        system: str,
        request: Request,
        handler: Callable[[Request], Response],
        *,
        now: dt.datetime | None = None,
    ) -> Response:
        """Answer `request` through `handler`, unless this request is to fail; sleeps the latency first."""
        settings = self.settings(system)
        if settings.latency:
            self.sleep(settings.latency)
        fault = self.next_fault(system)
        if fault is None:
            return handler(request)
        if fault.kind == "timeout":
            self.sleep(fault.seconds if fault.seconds is not None else self.client_timeout + 1)
            raise SimulatedTimeout(f"{system}: no answer within the client's timeout")
        if fault.kind == "disconnect":
            raise DroppedConnection(f"{system}: connection closed without a response")
        if fault.kind == "malformed":
            # The system did the work; the body was cut short on the way (a 200 that does not parse).
            return truncated(handler(request))
        request_id = self._request_id(system, now)
        if fault.kind == "5xx":
            return unavailable_response(system, request_id=request_id)
        if fault.kind == "429":
            return throttled_response(system, retry_after=fault.retry_after)
        return error_200_response(system, request_id=request_id, operation=graphql_operation(request.body))

    def _request_id(self, system: str, now: dt.datetime | None) -> str:
        with self._lock:
            rng = self._id_rngs[system]
            if system == "shiphero":
                return f"{rng.getrandbits(96):024x}"  # like "5da7dc13f3079f0def208711"
            value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if system == "shopify" and now is not None:
            return f"{value}-{int(now.timestamp())}"  # Shopify's "<uuid>-<unix time>"
        return value


def _check_system(system: str) -> None:
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; expected one of {', '.join(SYSTEMS)}")


# --- Response bodies ----------------------------------------------------------------------------

_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"

_SHOPIFY_503_PAGE = """<!--
  The source of truth for this generic error page is https://github.com/Shopify/error-pages.
-->
<!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8"><title>Shopify &middot; Service Unavailable</title></head>
  <body><h1>Service Unavailable</h1>
    <p>This store is temporarily unavailable. Please try again in a few minutes.</p>
    <p>Request ID: {request_id}</p></body>
</html>
"""

_NGINX_503_PAGE = """<html>
<head><title>503 Service Temporarily Unavailable</title></head>
<body>
<center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

SHOPIFY_429_MESSAGE = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)
SHOPIFY_INTERNAL_MESSAGE = (
    "Internal error. Looks like something went wrong on our end.\nRequest ID: {request_id} "
    "(include this in support requests)."
)
SHIPHERO_INTERNAL_MESSAGE = (
    "Internal Server Error. Please try again; if it persists, contact support with the request_id."
)
SHIPHERO_INTERNAL_CODE = 9  # not confirmed against the glossary's code table
ERPNEXT_DEADLOCK_MESSAGE = "Deadlock found when trying to get lock; try restarting transaction"


def unavailable_response(system: str, *, request_id: str) -> Response:
    """HTTP 503 with the body the product (or the proxy in front of it) really sends."""
    _check_system(system)
    if system == "shopify":
        body = _SHOPIFY_503_PAGE.format(request_id=request_id).encode()
        return Response(503, body, [("Content-Type", _HTML), ("X-Request-Id", request_id)])
    if system == "shiphero":
        return Response(503, _NGINX_503_PAGE.encode(), [("Content-Type", _HTML)])
    payload = {"exc_type": "SessionStopped", "exception": "frappe.exceptions.SessionStopped: Session Stopped"}
    return Response.json(payload, status=503)


def throttled_response(system: str, *, retry_after: int) -> Response:
    """HTTP 429 with `Retry-After` (seconds) in the product's own form."""
    _check_system(system)
    if system == "shopify":
        return Response.json(
            {"errors": SHOPIFY_429_MESSAGE}, status=429, headers=[("Retry-After", f"{retry_after:.1f}")]
        )
    if system == "shiphero":
        return Response.json({"message": "Too Many Requests"}, status=429, headers=[("Retry-After", str(retry_after))])
    headers = [
        ("Content-Type", _TEXT),
        ("Retry-After", str(retry_after)),
        ("X-RateLimit-Limit", "300000000"),  # Frappe counts a CPU-time budget in microseconds
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", str(retry_after)),
    ]
    return Response(429, b"Too Many Requests", headers)


def error_200_response(system: str, *, request_id: str, operation: str = "warehouse_products") -> Response:
    """HTTP 200 whose body says the request failed, in the product's own error shape."""
    _check_system(system)
    if system == "shopify":
        error = {
            "message": SHOPIFY_INTERNAL_MESSAGE.format(request_id=request_id),
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
        return Response.json({"errors": [error]})
    if system == "shiphero":
        error = {
            "message": SHIPHERO_INTERNAL_MESSAGE,
            "operation": operation,
            "field": operation,
            "request_id": request_id,
            "code": SHIPHERO_INTERNAL_CODE,
        }
        return Response.json({"errors": [error], "data": {operation: None}})
    server_message = {"message": ERPNEXT_DEADLOCK_MESSAGE, "title": "Message", "indicator": "red", "raise_exception": 1}
    payload = {
        "exc_type": "QueryDeadlockError",
        "exception": f"frappe.exceptions.QueryDeadlockError: (1213, '{ERPNEXT_DEADLOCK_MESSAGE}')",
        "_server_messages": json.dumps([json.dumps(server_message)]),
    }
    return Response.json(payload)


def truncated(response: Response) -> Response:
    """The same response cut in half: status 200, a JSON content type, a body that does not parse."""
    body = response.body[: len(response.body) // 2] or b"{"
    try:
        json.loads(body)
    except ValueError:
        pass
    else:  # a tiny body that still parses once halved (e.g. "12" → "1")
        body = b'{"data":' + body
    headers = [(k, v) for k, v in response.headers if k.lower() not in ("content-type", "content-length")]
    return Response(200, body, [("Content-Type", "application/json; charset=utf-8"), *headers])


_OPERATION = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)")


def graphql_operation(body: bytes) -> str:
    """The top-level field of a GraphQL request body (best effort; "warehouse_products" if unknown)."""
    try:
        query = json.loads(body).get("query", "")
    except (ValueError, AttributeError):
        return "warehouse_products"
    match = _OPERATION.search(query) if isinstance(query, str) else None
    return match.group(1) if match else "warehouse_products"
