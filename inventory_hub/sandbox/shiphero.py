"""The simulated ShipHero public GraphQL API (the WMS), over the shared World.

Served: `POST /graphql` (queries `account`, `warehouse_products`, `inventory_changes`, executed by
graphql-core against schemas/shiphero_2022-04.subset.graphql) and `POST /auth/refresh`.
Shapes follow APIS.md §4 and ShipHero's docs:

- Every query answers a `*QueryResult {request_id, complexity, data}`; lists are Relay connections
  `data(first, after, last, before)` whose cursors are graphene's offset cursors
  (base64 "arrayconnection:<offset>"), over a list in a stable order, so paging walks each row once.
- Ids are base64 "<Type>:<legacy id>" (e.g. base64("Warehouse:76733") = "V2FyZWhvdXNlOjc2NzMz").
- Credits: a leaky bucket (capacity `credits`, refilled `restore_rate`/s of `clock`). A query
  costs 1 + the `first` (default 100) of each connection times what each of its rows costs,
  so a 100-row page costs 101 (the APIS.md §4.6 example). `analyze: true` prices without running.
  When a query needs more than remains, ShipHero answers HTTP 200 with `errors[]` (the Error
  Glossary's shape: message, operation, field, request_id, code) and `data.<field>: null`; the
  throttling error is code 30 and carries `required_credits`, `remaining_credits` and
  `time_remaining` ("N seconds"), as ShipHero clients read them (definite-app/tap-shiphero,
  tap_shiphero/client.py). The message text is ours: the exact wording is not published.
- A missing or wrong bearer token: HTTP 401. ShipHero does not document that body; ours is the
  Error Glossary's error object with code 401 (an assumption, see `_unauthorized`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    get_named_type,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values

from inventory_hub.sandbox.http import Request, Response
from inventory_hub.sandbox.world import Location, WmsChange, WmsProduct, World

SCHEMA_PATH = Path(__file__).with_name("schemas") / "shiphero_2022-04.subset.graphql"
ACCOUNT_LEGACY_ID = 63898  # the sandbox retailer's ShipHero account (the id in the docs' webhook samples)
DEFAULT_PAGE_SIZE = 100  # ShipHero's default `first` when a connection is asked for without one
THROTTLED_CODE = 30
TOKEN_LIFETIME_SECONDS = 28 * 24 * 3600  # access tokens live 28 days (APIS.md §4.2)


def gid(type_name: str, legacy_id: int) -> str:
    """ShipHero's GraphQL id: base64("<Type>:<legacy id>")."""
    return base64.b64encode(f"{type_name}:{legacy_id}".encode()).decode()


def iso(moment: dt.datetime) -> str:
    """ShipHero's ISODateTime as the sandbox renders it: UTC with an explicit offset, whole seconds."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def _cursor(offset: int) -> str:
    return base64.b64encode(f"arrayconnection:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        prefix, _, number = base64.b64decode(cursor).decode().partition(":")
        if prefix == "arrayconnection":
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise GraphQLError(f"Invalid cursor: {cursor}")


def _legacy_id(value: str, type_name: str) -> int | None:
    """Accept a GraphQL id (base64 "<Type>:<n>") or a bare legacy id; None if it is neither."""
    if value.isdigit():
        return int(value)
    try:
        prefix, _, number = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return int(number) if prefix == type_name and number.isdigit() else None


def _parse_time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphQLError(f"Invalid ISODateTime: {value}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def connection(rows: Sequence[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    """A Relay connection over `rows` (graphene's array slicing: after/before, then first/last)."""
    after, before = _offset(args.get("after")), _offset(args.get("before"))
    start = 0 if after is None else after + 1
    end = len(rows) if before is None else min(before, len(rows))
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    if first is not None:
        end = min(end, start + max(first, 0))
    if last is not None:
        start = max(start, end - max(last, 0))
    edges = [{"cursor": _cursor(i), "node": rows[i]} for i in range(start, max(start, end))]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": end < len(rows),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


class CreditBucket:
    """ShipHero's credit bucket: `capacity` credits, refilled at `restore_rate` per second of `clock`."""

    def __init__(self, capacity: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.restore_rate = restore_rate
        self._clock = clock
        self._credits = capacity
        self._at = clock()
        self._lock = threading.Lock()

    def remaining(self) -> float:
        with self._lock:
            self._refill()
            return self._credits

    def take(self, cost: int) -> tuple[bool, float]:
        """Spend `cost` if it is there; return (spent, credits remaining before the attempt)."""
        with self._lock:
            self._refill()
            before = self._credits
            if cost > before:
                return False, before
            self._credits -= cost
            return True, before

    def _refill(self) -> None:
        now = self._clock()
        self._credits = min(self.capacity, self._credits + max(0.0, now - self._at) * self.restore_rate)
        self._at = now


# --- rendering the World as ShipHero nodes ------------------------------------------------------


def _bin_legacy_id(location: Location, bin_name: str) -> int:
    """ShipHero's Location (bin) legacy id; the World names bins only, so derive a stable 31-bit number."""
    return zlib.crc32(f"{location.shiphero_id}:{bin_name}".encode()) & 0x7FFFFFFF


def _item_location_legacy_id(product: WmsProduct, bin_name: str) -> int:
    return zlib.crc32(f"{product.legacy_id}:{bin_name}".encode()) & 0x7FFFFFFF


def _warehouse(location: Location, company: str) -> dict[str, Any]:
    return {
        "id": gid("Warehouse", location.shiphero_id),
        "legacy_id": location.shiphero_id,
        "account_id": gid("Account", ACCOUNT_LEGACY_ID),
        "identifier": location.name,
        "dynamic_slotting": False,
        "profile": "default",
        "company_name": company,
        "company_alias": location.code,
    }


def _bin(location: Location, bin_name: str, created_at: dt.datetime) -> dict[str, Any]:
    sellable = bin_name not in location.non_sellable_bins
    return {
        "id": gid("Location", _bin_legacy_id(location, bin_name)),
        "legacy_id": _bin_legacy_id(location, bin_name),
        "account_id": gid("Account", ACCOUNT_LEGACY_ID),
        "warehouse_id": gid("Warehouse", location.shiphero_id),
        "name": bin_name,
        "zone": bin_name.split("-")[0],
        "pickable": sellable,
        "sellable": sellable,
        "is_cart": False,
        "pick_priority": location.bins.index(bin_name) + 1 if bin_name in location.bins else 0,
        "created_at": iso(created_at),
    }


def _item_locations(world: World, product: WmsProduct) -> list[dict[str, Any]]:
    location = world.locations[product.location]
    order = {name: i for i, name in enumerate(location.bins)}
    rows = []
    for bin_name in sorted(product.bins, key=lambda b: (order.get(b, len(order)), b)):
        bin_id = _bin_legacy_id(location, bin_name)
        legacy_id = _item_location_legacy_id(product, bin_name)
        rows.append(
            {
                "id": gid("ItemLocation", legacy_id),
                "legacy_id": legacy_id,
                "account_id": gid("Account", ACCOUNT_LEGACY_ID),
                "warehouse_id": gid("Warehouse", location.shiphero_id),
                "location_id": gid("Location", bin_id),
                "sku": product.sku,
                "quantity": product.bins[bin_name],
                "created_at": iso(product.created_at),
                "location": _bin(location, bin_name, world.start),
            }
        )
    return rows


def _warehouse_product(world: World, product: WmsProduct) -> dict[str, Any]:
    location = world.locations[product.location]
    return {
        "id": gid("WarehouseProduct", product.legacy_id),
        "legacy_id": product.legacy_id,
        "account_id": gid("Account", ACCOUNT_LEGACY_ID),
        "sku": product.sku,
        "warehouse_id": gid("Warehouse", location.shiphero_id),
        "warehouse_identifier": location.name,
        "on_hand": product.on_hand,
        "inventory_bin": location.bins[0] if location.bins else None,
        "reserve_inventory": product.reserve,
        "backorder": product.backorder,
        "allocated": product.allocated,
        "available": product.available,
        "non_sellable_quantity": product.non_sellable,
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
        "sell_ahead": 0,
        "active": True,
        "warehouse": _warehouse(location, world.company),
        "locations": lambda info, **args: connection(_item_locations(world, product), args),
    }


def _inventory_change(world: World, change: WmsChange) -> dict[str, Any]:
    location = world.locations[change.location]
    return {
        "id": gid("InventoryChange", change.legacy_id),
        "legacy_id": change.legacy_id,
        "user_id": gid("User", change.user_id),
        "account_id": gid("Account", ACCOUNT_LEGACY_ID),
        "warehouse_id": gid("Warehouse", location.shiphero_id),
        "sku": change.sku,
        "previous_on_hand": change.previous_on_hand,
        "change_in_on_hand": change.change_in_on_hand,
        "reason": change.reason,
        "cycle_counted": change.cycle_counted,
        "location_id": gid("Location", _bin_legacy_id(location, change.bin)),
        "created_at": iso(change.created_at),
        "location": _bin(location, change.bin, world.start),
    }


def _warehouse_filter(world: World, warehouse_id: str | None) -> Callable[[str], bool]:
    if warehouse_id is None:
        return lambda code: True
    legacy = _legacy_id(warehouse_id, "Warehouse")
    location = world.location_by_shiphero_id(legacy) if legacy is not None else None
    if location is None:
        raise GraphQLError(f"Warehouse {warehouse_id} not found")
    return lambda code: code == location.code


class LazyRows(Sequence[dict[str, Any]]):
    """Rows built only when a page reads them: a connection over thousands of products builds one page."""

    def __init__(self, items: Sequence[Any], build: Callable[[Any], dict[str, Any]]) -> None:
        self._items = items
        self._build = build

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._build(item) for item in self._items[index]]
        return self._build(self._items[index])


def warehouse_products_rows(world: World, args: dict[str, Any]) -> Sequence[dict[str, Any]]:
    in_warehouse = _warehouse_filter(world, args.get("warehouse_id"))
    bounds = {
        name: _parse_time(args.get(name)) for name in ("created_from", "created_to", "updated_from", "updated_to")
    }
    active = args.get("active")
    rows = []
    for product in sorted(world.wms_products.values(), key=lambda p: p.legacy_id):
        if not in_warehouse(product.location) or (args.get("sku") is not None and product.sku != args["sku"]):
            continue
        if active is False:  # every sandbox product is active
            continue
        if not _within(product.created_at, bounds["created_from"], bounds["created_to"]):
            continue
        if not _within(product.updated_at, bounds["updated_from"], bounds["updated_to"]):
            continue
        rows.append(product)
    return LazyRows(rows, lambda product: _warehouse_product(world, product))


def inventory_changes_rows(world: World, args: dict[str, Any]) -> list[dict[str, Any]]:
    in_warehouse = _warehouse_filter(world, args.get("warehouse_id"))
    date_from, date_to = _parse_time(args.get("date_from")), _parse_time(args.get("date_to"))
    rows = []
    for change in sorted(world.wms_changes, key=lambda c: (c.created_at, c.legacy_id)):
        if not in_warehouse(change.location) or (args.get("sku") is not None and change.sku != args["sku"]):
            continue
        if not _within(change.created_at, date_from, date_to):
            continue
        row = _inventory_change(world, change)
        if args.get("location_id") is not None and row["location_id"] != args["location_id"]:
            continue
        if args.get("location_name") is not None and change.bin != args["location_name"]:
            continue
        rows.append(row)
    return rows


def _within(moment: dt.datetime, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """`*_from` is inclusive, `*_to` exclusive, so consecutive windows never see a row twice."""
    return (start is None or moment >= start) and (end is None or moment < end)


def _account(world: World) -> dict[str, Any]:
    return {
        "id": gid("Account", ACCOUNT_LEGACY_ID),
        "legacy_id": ACCOUNT_LEGACY_ID,
        "email": "sandbox@acme.example",
        "username": "sandbox@acme.example",
        "status": "active",
        "dynamic_slotting": False,
        "is_multi_warehouse": len(world.locations) > 1,
        "is_3pl": False,
        "cycle_count_enabled": True,
        "warehouses": [
            _warehouse(loc, world.company) for loc in sorted(world.locations.values(), key=lambda x: x.shiphero_id)
        ],
    }


# --- the API --------------------------------------------------------------------------------------


def _load_schema() -> GraphQLSchema:
    schema = build_schema(SCHEMA_PATH.read_text())
    query = _query_type(schema)
    for name in ("account", "warehouse_products", "inventory_changes"):
        query.fields[name].resolve = _resolve_root
    for result in ("WarehouseProductsQueryResult", "InventoryChangesQueryResult"):
        result_type = schema.type_map[result]
        if not isinstance(result_type, GraphQLObjectType):
            raise TypeError(f"{result} is not an object type")
        result_type.fields["data"].resolve = _resolve_connection
    return schema


def _query_type(schema: GraphQLSchema) -> GraphQLObjectType:
    if schema.query_type is None:
        raise TypeError("the schema has no query type")
    return schema.query_type


def _resolve_root(root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    context = info.context
    key = info.path.key
    result = {"request_id": context["request_id"], "complexity": context["costs"][key], "rows": None}
    if args.get("analyze"):
        result["data"] = None
        return result
    world: World = context["world"]
    if info.field_name == "account":
        result["data"] = _account(world)
    elif info.field_name == "warehouse_products":
        result["rows"] = warehouse_products_rows(world, args)
    else:
        result["rows"] = inventory_changes_rows(world, args)
    return result


def _resolve_connection(result: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> dict[str, Any] | None:
    return None if result["rows"] is None else connection(result["rows"], args)


class ShipHeroApi:
    """ShipHero's public API for one World; `handle` is safe to call from several threads."""

    def __init__(
        self,
        world: World,
        *,
        credits: float = 4004.0,
        restore_rate: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.world = world
        self.bucket = CreditBucket(credits, restore_rate, clock)
        self.schema = _load_schema()

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/auth/refresh":
            return self._refresh(request)
        if request.path.rstrip("/") != "/graphql":
            return Response.json({"errors": [{"message": "Not found", "code": 404}]}, status=404)
        if request.method != "POST":
            return Response.json({"errors": [{"message": "Method not allowed", "code": 405}]}, status=405)
        if request.headers.get("authorization", "") != f"Bearer {self.world.credentials.shiphero_access_token}":
            return self._unauthorized()
        try:
            payload = json.loads(request.body or b"{}")
            document = parse(payload["query"])
        except (ValueError, KeyError, TypeError, GraphQLError) as exc:
            return Response.json({"errors": [{"message": f"Invalid request: {exc}"}]}, status=400)
        return self._graphql(document, payload.get("variables") or {}, payload.get("operationName"))

    def _graphql(self, document: DocumentNode, variables: dict[str, Any], operation_name: str | None) -> Response:
        errors = validate(self.schema, document)
        operation = get_operation_ast(document, operation_name)
        if not errors and operation is None:
            errors = [GraphQLError("Unknown operation")]
        coerced: Any = {}
        if not errors and operation is not None:
            coerced = get_variable_values(self.schema, operation.variable_definitions or (), variables)
            if isinstance(coerced, list):
                errors = coerced
        if errors or operation is None:
            return Response.json({"errors": [e.formatted for e in errors], "data": None}, status=400)
        request_id = uuid.uuid4().hex[:24]
        roots = _root_fields(self.schema, document, operation, coerced)
        costs = {key: cost for key, _name, cost, _analyze in roots}
        required = sum(cost for _key, _name, cost, analyze in roots if not analyze)
        spent, remaining = self.bucket.take(required)
        if not spent:
            return Response.json(self._throttled(roots, request_id, required, remaining))
        context = {"world": self.world, "request_id": request_id, "costs": costs}
        with self.world.lock:
            result = execute(
                self.schema, document, variable_values=variables, operation_name=operation_name, context_value=context
            )
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body = {"errors": [{**e.formatted, "request_id": request_id} for e in result.errors], "data": result.data}
        return Response.json(body)

    def _throttled(
        self, roots: Sequence[tuple[str, str, int, bool]], request_id: str, required: int, remaining: float
    ) -> dict[str, Any]:
        credits_left = math.floor(remaining)
        wait = (
            math.ceil((required - remaining) / self.bucket.restore_rate) if required <= self.bucket.capacity else None
        )
        name = roots[0][1]
        if wait is None:
            message = (
                f"The query requires {required} credits, more than the maximum of "
                f"{math.floor(self.bucket.capacity)} a single operation can use"
            )
        else:
            message = (
                f"There are not enough credits to perform the requested operation, which requires "
                f"{required} credits. The account has {credits_left} credits remaining. "
                f"Please try again in {wait} seconds"
            )
        error = {
            "message": message,
            "operation": name,
            "field": name,
            "request_id": request_id,
            "code": THROTTLED_CODE,
            "required_credits": required,
            "remaining_credits": credits_left,
            "time_remaining": f"{wait} seconds" if wait is not None else None,
        }
        return {"errors": [error], "data": {root_key: None for root_key, *_rest in roots}}

    def _unauthorized(self) -> Response:
        # ShipHero answers a bad or expired token with HTTP 401 (APIS.md §4.5, the Error Glossary's
        # "Common causes"); the body below is the Glossary's error-object shape, not a recorded one.
        return Response.json(
            {
                "errors": [
                    {"message": "Invalid or expired access token", "code": 401, "request_id": uuid.uuid4().hex[:24]}
                ],
                "data": None,
            },
            status=401,
            headers=[("WWW-Authenticate", 'Bearer realm="ShipHero Public API"')],
        )

    def _refresh(self, request: Request) -> Response:
        """`POST /auth/refresh {"refresh_token": …}`: any non-empty refresh token mints the world's token."""
        try:
            refresh_token = json.loads(request.body or b"{}").get("refresh_token")
        except (ValueError, AttributeError):
            refresh_token = None
        if request.method != "POST" or not isinstance(refresh_token, str) or not refresh_token:
            return Response.json({"error": "invalid_grant", "error_description": "Invalid refresh token"}, status=401)
        return Response.json(
            {
                "access_token": self.world.credentials.shiphero_access_token,
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "scope": "openid profile offline_access",
                "token_type": "Bearer",
            }
        )


# --- complexity ---------------------------------------------------------------------------------


def _root_fields(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> list[tuple[str, str, int, bool]]:
    """(response key, field name, complexity, analyze) of each root field of `operation`."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    query = _query_type(schema)
    roots = []
    for node in _fields(operation.selection_set, fragments):
        if node.name.value == "__typename":
            continue
        field = query.fields[node.name.value]
        args = get_argument_values(field, node, variables)
        cost = 1 + _cost(schema, field, node, fragments, variables)
        roots.append(((node.alias or node.name).value, node.name.value, cost, bool(args.get("analyze"))))
    return roots


def _cost(
    schema: GraphQLSchema,
    field: GraphQLField,
    node: FieldNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    """What the rows under `node` cost: each connection multiplies what one of its rows costs by its page size."""
    named = get_named_type(field.type)
    if node.selection_set is None or not isinstance(named, GraphQLObjectType):
        return 0
    below = sum(
        _cost(schema, named.fields[child.name.value], child, fragments, variables)
        for child in _fields(node.selection_set, fragments)
        if child.name.value in named.fields
    )
    if "first" in field.args and "edges" in named.fields:
        args = get_argument_values(field, node, variables)
        size = args.get("first") if args.get("first") is not None else args.get("last")
        return (DEFAULT_PAGE_SIZE if size is None else max(size, 0)) * max(below, 1)
    return below


def _fields(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> Iterable[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _fields(fragments[selection.name.value].selection_set, fragments)
