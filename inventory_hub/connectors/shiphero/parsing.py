"""ShipHero payloads → the hub's records: pure functions, strict about shape.

Every unexpected shape raises PermanentConnectorError naming the field path from the top of the
response (`data.warehouse_products.data.edges[2].node.on_hand is not an integer`), because that
message becomes the disabled connector's reason and a person has to act on it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from inventory_hub.connectors.base import EventRecord, ExternalLocation, PermanentConnectorError, PositionRecord


@dataclasses.dataclass(frozen=True, slots=True)
class PageInfo:
    """A Relay connection's paging state."""

    has_next_page: bool
    end_cursor: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class BinOverflow:
    """A product whose bins did not fit in the nested `locations(first:)` page: fetch the rest."""

    warehouse_id: str
    sku: str
    after: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class PositionsPage:
    """One `warehouse_products` page: its records, paging state and products with more bins."""

    records: tuple[PositionRecord, ...]
    page_info: PageInfo
    overflows: tuple[BinOverflow, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class EventsPage:
    """One `inventory_changes` page: its records and paging state."""

    records: tuple[EventRecord, ...]
    page_info: PageInfo


# --- the reason → kind heuristic ----------------------------------------------------------------

# ShipHero has no official list of inventory-change reasons (APIS.md §6): they are free text written
# by the dashboard, the apps and integrations. Rules are tried in order, first match wins; order
# matters because texts mix words ("Moved to QUARANTINE: damaged" is a transfer, "Backflush of ERP
# adjustment for order 12" an adjustment, "Received PO for order 9" a receipt, not a pick).
_TRANSFER = re.compile(r"transfer|moved? to\b", re.IGNORECASE)
_ADJUSTMENT = re.compile(r"adjust|backflush|shrink|correction", re.IGNORECASE)
_RECEIPT = re.compile(r"receiv|purchase order|return|restock", re.IGNORECASE)
_RECEIPT_PO = re.compile(r"\bPO\b")  # upper case, whole word: "Po"/"po" are too common to mean purchase order
# Whole words: the dashboard's own reasons say "ShipHero", which is no shipment.
_PICK = re.compile(r"\b(?:ship(?:ped|ping|ment|s)?|pick(?:ed|ing|s)?|orders?)\b", re.IGNORECASE)


def event_kind(reason: str, *, cycle_counted: bool) -> str:
    """The hub's event kind for a ShipHero inventory change (cycle_counted flag, then reason text)."""
    if cycle_counted:
        return "cycle_count"
    if _TRANSFER.search(reason):
        return "transfer"
    if _ADJUSTMENT.search(reason):
        return "adjustment"
    if _RECEIPT.search(reason) or _RECEIPT_PO.search(reason):
        return "receipt"
    if _PICK.search(reason):
        return "pick"
    return "adjustment"


# --- field access with paths --------------------------------------------------------------------


def _fail(path: str, problem: str) -> PermanentConnectorError:
    return PermanentConnectorError(f"ShipHero response: {path} {problem}")


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "is not an object" if value is not None else "is null")
    return value


def _get(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise _fail(f"{path}.{key}", "is missing")
    return obj[key]


def _int(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = _get(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{path}.{key}", "is not an integer")
    return value


def _str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = _get(obj, key, path)
    if not isinstance(value, str) or not value:
        raise _fail(f"{path}.{key}", "is not a non-empty string")
    return value


def _bool(obj: Mapping[str, Any], key: str, path: str, *, null_as: bool | None = None) -> bool:
    value = _get(obj, key, path)
    if value is None and null_as is not None:
        return null_as
    if not isinstance(value, bool):
        raise _fail(f"{path}.{key}", "is not a boolean")
    return value


def _list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = _get(obj, key, path)
    if not isinstance(value, list):
        raise _fail(f"{path}.{key}", "is not a list")
    return value


def _time(obj: Mapping[str, Any], key: str, path: str, *, nullable: bool = False) -> dt.datetime | None:
    value = _get(obj, key, path)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _fail(f"{path}.{key}", "is not an ISO date-time")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{path}.{key}", f"is not an ISO date-time ({value!r})") from None
    # ShipHero's ISODateTime is UTC; older responses render it without an offset.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _result(payload: Any, root: str) -> tuple[Mapping[str, Any], str]:
    """The `*QueryResult` object under `data.<root>` and its path."""
    data = _object(_get(_object(payload, "body"), "data", "response"), "data")
    path = f"data.{root}"
    return _object(_get(data, root, "data"), path), path


def _connection(result: Mapping[str, Any], path: str) -> tuple[list[Any], PageInfo, str]:
    """(edges, page info, path of the connection) of a `*QueryResult.data` connection."""
    conn_path = f"{path}.data"
    conn = _object(_get(result, "data", path), conn_path)
    return _list(conn, "edges", conn_path), _page_info(conn, conn_path), conn_path


def _page_info(conn: Mapping[str, Any], path: str) -> PageInfo:
    info_path = f"{path}.pageInfo"
    info = _object(_get(conn, "pageInfo", path), info_path)
    has_next = _bool(info, "hasNextPage", info_path)
    end = _get(info, "endCursor", info_path)
    if end is not None and not isinstance(end, str):
        raise _fail(f"{info_path}.endCursor", "is not a string")
    if has_next and end is None:
        raise _fail(f"{info_path}.endCursor", "is null although hasNextPage is true")
    return PageInfo(has_next, end)


def _node(edge: Any, path: str) -> tuple[Mapping[str, Any], str]:
    node_path = f"{path}.node"
    return _object(_get(_object(edge, path), "node", path), node_path), node_path


def complexity(payload: Any, root: str) -> int | None:
    """The credits a response says it cost (`data.<root>.complexity`), None when it carries none."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    result = data.get(root) if isinstance(data, Mapping) else None
    value = result.get("complexity") if isinstance(result, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- the three reads ----------------------------------------------------------------------------


def parse_locations(payload: Any) -> list[ExternalLocation]:
    """`account { data { warehouses { id identifier } } }` → the account's warehouses."""
    result, path = _result(payload, "account")
    account_path = f"{path}.data"
    account = _object(_get(result, "data", path), account_path)
    locations = []
    for i, item in enumerate(_list(account, "warehouses", account_path)):
        item_path = f"{account_path}.warehouses[{i}]"
        warehouse = _object(item, item_path)
        locations.append(
            ExternalLocation(
                external_id=_str(warehouse, "id", item_path), name=_str(warehouse, "identifier", item_path)
            )
        )
    return locations


def parse_bins(
    node: Mapping[str, Any], path: str, *, warehouse_id: str, sku: str, as_of: dt.datetime | None
) -> tuple[list[PositionRecord], BinOverflow | None]:
    """A product's `locations` connection → one record per bin holding a quantity, and any overflow."""
    conn_path = f"{path}.locations"
    conn = _object(_get(node, "locations", path), conn_path)
    records = []
    for i, edge in enumerate(_list(conn, "edges", conn_path)):
        item, item_path = _node(edge, f"{conn_path}.edges[{i}]")
        quantity = _int(item, "quantity", item_path)
        bin_path = f"{item_path}.location"
        location = _object(_get(item, "location", item_path), bin_path)
        name = _str(location, "name", bin_path)
        sellable = _bool(location, "sellable", bin_path)
        if quantity == 0:
            continue  # an emptied bin is not part of any pool
        records.append(
            PositionRecord(
                external_location_id=warehouse_id,
                sku=sku,
                on_hand=quantity,
                allocated=0,  # ShipHero allocates at warehouse level, never to a bin
                available=quantity if sellable else 0,
                bin=name,
                as_of=as_of,
            )
        )
    info = _page_info(conn, conn_path)
    overflow = BinOverflow(warehouse_id, sku, info.end_cursor) if info.has_next_page else None
    return records, overflow


def parse_positions(payload: Any) -> PositionsPage:
    """A `warehouse_products` page → per product one warehouse-level record, then one per bin."""
    result, path = _result(payload, "warehouse_products")
    edges, page_info, conn_path = _connection(result, path)
    records: list[PositionRecord] = []
    overflows = []
    for i, edge in enumerate(edges):
        node, node_path = _node(edge, f"{conn_path}.edges[{i}]")
        sku = _str(node, "sku", node_path)
        warehouse_id = _str(node, "warehouse_id", node_path)
        as_of = _time(node, "updated_at", node_path, nullable=True)
        records.append(
            PositionRecord(
                external_location_id=warehouse_id,
                sku=sku,
                on_hand=_int(node, "on_hand", node_path),
                allocated=_int(node, "allocated", node_path),
                available=_int(node, "available", node_path),
                as_of=as_of,
            )
        )
        bins, overflow = parse_bins(node, node_path, warehouse_id=warehouse_id, sku=sku, as_of=as_of)
        records.extend(bins)
        if overflow is not None:
            overflows.append(overflow)
    return PositionsPage(tuple(records), page_info, tuple(overflows))


def parse_more_bins(payload: Any, overflow: BinOverflow) -> tuple[list[PositionRecord], BinOverflow | None]:
    """The follow-up `warehouse_products(sku:)` query for one product's remaining bins."""
    result, path = _result(payload, "warehouse_products")
    edges, _info, conn_path = _connection(result, path)
    if len(edges) != 1:
        raise _fail(f"{conn_path}.edges", f"has {len(edges)} products for SKU {overflow.sku!r}, expected 1")
    node, node_path = _node(edges[0], f"{conn_path}.edges[0]")
    as_of = _time(node, "updated_at", node_path, nullable=True)
    return parse_bins(node, node_path, warehouse_id=overflow.warehouse_id, sku=overflow.sku, as_of=as_of)


def parse_events(payload: Any) -> EventsPage:
    """An `inventory_changes` page → one event per change, with its kind and quantity after."""
    result, path = _result(payload, "inventory_changes")
    edges, page_info, conn_path = _connection(result, path)
    records = []
    for i, edge in enumerate(edges):
        node, node_path = _node(edge, f"{conn_path}.edges[{i}]")
        previous = _int(node, "previous_on_hand", node_path)
        delta = _int(node, "change_in_on_hand", node_path)
        reason = _get(node, "reason", node_path)
        if reason is not None and not isinstance(reason, str):
            raise _fail(f"{node_path}.reason", "is not a string")
        location = _get(node, "location", node_path)
        # A change whose bin was since deleted has no location: keep the event, without a bin.
        bin_name = (
            ""
            if location is None
            else _str(_object(location, f"{node_path}.location"), "name", f"{node_path}.location")
        )
        occurred_at = _time(node, "created_at", node_path)
        assert occurred_at is not None  # noqa: S101  (not nullable)
        records.append(
            EventRecord(
                source_event_id=_str(node, "id", node_path),  # not legacy_id: it can repeat (APIS.md §4.1)
                kind=event_kind(reason or "", cycle_counted=_bool(node, "cycle_counted", node_path, null_as=False)),
                external_location_id=_str(node, "warehouse_id", node_path),
                sku=_str(node, "sku", node_path),
                delta=delta,
                quantity_after=previous + delta,
                occurred_at=occurred_at,
                bin=bin_name,
                raw=dict(node),
            )
        )
    return EventsPage(tuple(records), page_info)
