"""Shopify Admin GraphQL payloads → the hub's records. Pure functions, no I/O.

Every unexpected shape raises PermanentConnectorError naming the field path, e.g.
`Shopify response: data.location.inventoryLevels.nodes[3].quantities[0].quantity is not an integer`,
so a disabled connector tells a person exactly what Shopify sent that the hub did not expect.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from inventory_hub.connectors.base import (
    ExternalLocation,
    OrderLineRecord,
    OrderRecord,
    PermanentConnectorError,
    PositionRecord,
)

# The named quantities the adapter asks for (APIS.md §1.1); a level answers exactly these names.
QUANTITY_NAMES = ("available", "committed", "reserved", "on_hand", "incoming")
# A fulfillment order in this status no longer assigns its lines to its location.
_IGNORED_FULFILLMENT_STATUSES = frozenset({"CANCELLED"})


class Field:
    """A value in a payload together with its path, for readable errors."""

    __slots__ = ("path", "value")

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def fail(self, problem: str) -> PermanentConnectorError:
        """The error for this field; callers raise it."""
        return PermanentConnectorError(f"Shopify response: {self.path} {problem}")

    def obj(self) -> Field:
        """This field, checked to be a JSON object."""
        if not isinstance(self.value, Mapping):
            raise self.fail("is not an object" if self.value is not None else "is missing")
        return self

    def key(self, name: str) -> Field:
        """A member of this object; missing members are an error."""
        mapping = self.obj().value
        if name not in mapping:
            raise PermanentConnectorError(f"Shopify response: {self.path}.{name} is missing")
        return Field(mapping[name], f"{self.path}.{name}")

    def opt(self, name: str) -> Field | None:
        """A member of this object that may be absent or null."""
        mapping = self.obj().value
        if mapping.get(name) is None:
            return None
        return Field(mapping[name], f"{self.path}.{name}")

    def as_list(self) -> list[Field]:
        """The elements of this JSON array."""
        if not isinstance(self.value, list):
            raise self.fail("is not a list")
        return [Field(v, f"{self.path}[{i}]") for i, v in enumerate(self.value)]

    def as_str(self) -> str:
        """This field as a string."""
        if not isinstance(self.value, str):
            raise self.fail("is not a string")
        return self.value

    def as_opt_str(self) -> str:
        """This field as a string, with null read as ""."""
        return "" if self.value is None else self.as_str()

    def as_int(self) -> int:
        """This field as an integer (JSON booleans are not integers)."""
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail("is not an integer")
        return self.value

    def as_bool(self) -> bool:
        """This field as a boolean."""
        if not isinstance(self.value, bool):
            raise self.fail("is not a boolean")
        return self.value

    def as_datetime(self) -> dt.datetime:
        """This field as an aware UTC datetime (Shopify's DateTime is ISO-8601 with `Z`)."""
        text = self.as_str()
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(f"is not an ISO-8601 timestamp: {text!r}") from None
        if moment.tzinfo is None:
            raise self.fail(f"has no time zone: {text!r}")
        return moment.astimezone(dt.UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class PageInfo:
    """Where a connection page ends and whether there is more."""

    has_next_page: bool
    end_cursor: str | None


def root(payload: Any) -> Field:
    """The `data` object of a GraphQL response."""
    if not isinstance(payload, Mapping):
        raise PermanentConnectorError("Shopify response: the body is not a JSON object")
    return Field(payload.get("data"), "data").obj()


def page_info(connection: Field) -> PageInfo:
    """`pageInfo { hasNextPage endCursor }` of a connection."""
    info = connection.key("pageInfo")
    has_next = info.key("hasNextPage").as_bool()
    cursor = info.opt("endCursor")
    end_cursor = cursor.as_str() if cursor is not None else None
    if has_next and end_cursor is None:
        raise info.fail("says there is a next page but gives no endCursor")
    return PageInfo(has_next, end_cursor)


def connection_at(payload: Any, *path: str) -> tuple[list[Field], PageInfo]:
    """The nodes and page info of the connection at `data.<path…>`."""
    field = root(payload)
    for name in path:
        field = field.key(name)
    field.obj()
    return field.key("nodes").as_list(), page_info(field)


def parse_locations(payload: Any) -> tuple[list[ExternalLocation], PageInfo]:
    """A `locations` page → ExternalLocations."""
    nodes, info = connection_at(payload, "locations")
    records = [
        ExternalLocation(
            external_id=node.key("id").as_str(), name=node.key("name").as_str(), active=node.key("isActive").as_bool()
        )
        for node in nodes
    ]
    return records, info


def parse_levels(payload: Any) -> tuple[list[PositionRecord], PageInfo]:
    """A `location { inventoryLevels }` page → PositionRecords for that location."""
    location = root(payload).key("location")
    if location.value is None:
        raise location.fail("is null: the location no longer exists or the token may not read it")
    location_id = location.key("id").as_str()
    nodes, info = connection_at(payload, "location", "inventoryLevels")
    records = []
    for node in nodes:
        sku = node.key("item").obj().key("sku").as_opt_str()
        quantities, available_at = _quantities(node.key("quantities"))
        # The stamp of the number the hub compares: a fulfilment lowering on hand moves the
        # level's updatedAt but not the available quantity's (null on old API versions: the level's).
        as_of = available_at or node.key("updatedAt").as_datetime()
        if not sku:
            # The hub keys every position by SKU: an item without one cannot be compared with the
            # WMS or ERP, so it is left out rather than stored under an empty key.
            continue
        records.append(
            PositionRecord(
                external_location_id=location_id,
                sku=sku,
                on_hand=quantities["on_hand"],
                allocated=quantities["committed"] + quantities["reserved"],
                available=quantities["available"],
                incoming=quantities["incoming"],
                as_of=as_of,
            )
        )
    return records, info


def _quantities(field: Field) -> tuple[dict[str, int], dt.datetime | None]:
    """Named quantities, and when `available` last changed (when Shopify says)."""
    found: dict[str, int] = {}
    available_at = None
    for entry in field.as_list():
        name = entry.key("name").as_str()
        found[name] = entry.key("quantity").as_int()
        stamp = entry.opt("updatedAt")
        if name == "available" and stamp is not None:
            available_at = stamp.as_datetime()
    missing = [name for name in QUANTITY_NAMES if name not in found]
    if missing:
        raise field.fail(f"lacks {', '.join(missing)}")
    return found, available_at


@dataclasses.dataclass(frozen=True, slots=True)
class RawLine:
    """One `Order.lineItems` node."""

    line_id: str
    sku: str
    quantity: int


@dataclasses.dataclass(frozen=True, slots=True)
class Assignment:
    """A quantity of one line item that a fulfillment order assigns to a location."""

    line_id: str
    location_id: str
    quantity: int


@dataclasses.dataclass(frozen=True, slots=True)
class RawOrder:
    """An `orders` node before its nested connections are known to be complete."""

    order_id: str
    name: str
    channel: str
    created_at: dt.datetime
    created_at_text: str
    lines: tuple[RawLine, ...]
    assignments: tuple[Assignment, ...]
    lines_truncated: bool
    fulfillment_orders_truncated: bool
    raw: Mapping[str, Any]


def parse_orders(payload: Any) -> tuple[list[RawOrder], PageInfo]:
    """An `orders` page → RawOrders (nested pages may be truncated: see `lines_truncated`)."""
    nodes, info = connection_at(payload, "orders")
    return [_order(node) for node in nodes], info


def _order(node: Field) -> RawOrder:
    created = node.key("createdAt")
    line_items = node.key("lineItems")
    fulfillment_orders = node.key("fulfillmentOrders")
    assignments, fo_truncated = fulfillment_orders_assignments(fulfillment_orders)
    return RawOrder(
        order_id=node.key("id").as_str(),
        name=node.key("name").as_str(),
        channel=node.key("sourceName").as_opt_str(),
        created_at=created.as_datetime(),
        created_at_text=created.as_str(),
        lines=tuple(parse_line(n) for n in line_items.key("nodes").as_list()),
        assignments=tuple(assignments),
        lines_truncated=page_info(line_items).has_next_page,
        fulfillment_orders_truncated=fo_truncated,
        raw=node.value,
    )


def parse_line(node: Field) -> RawLine:
    """One `LineItem` node (`id sku quantity`)."""
    return RawLine(node.key("id").as_str(), node.key("sku").as_opt_str(), node.key("quantity").as_int())


def fulfillment_orders_assignments(connection: Field) -> tuple[list[Assignment], bool]:
    """The line assignments of a `fulfillmentOrders` connection, and whether any page of it is truncated."""
    assignments: list[Assignment] = []
    truncated = page_info(connection).has_next_page
    for node in connection.key("nodes").as_list():
        fo = parse_fulfillment_order(node)
        assignments += fo.assignments
        truncated = truncated or fo.lines_truncated
    return assignments, truncated


@dataclasses.dataclass(frozen=True, slots=True)
class RawFulfillmentOrder:
    """One FulfillmentOrder node: where it ships from and the line quantities it holds."""

    fulfillment_order_id: str
    location_id: str
    assignments: tuple[Assignment, ...]
    lines_truncated: bool


def parse_fulfillment_order(fo: Field) -> RawFulfillmentOrder:
    """One `FulfillmentOrder` node (`id status assignedLocation { location { id } } lineItems`)."""
    status = fo.key("status").as_str()
    location = fo.key("assignedLocation").obj().opt("location")
    # A deleted location leaves the assignment without a Location object.
    location_id = location.key("id").as_str() if location is not None else ""
    lines = fo.key("lineItems")
    assignments = tuple(fulfillment_line(node, location_id) for node in lines.key("nodes").as_list())
    truncated = page_info(lines).has_next_page
    if status in _IGNORED_FULFILLMENT_STATUSES:
        assignments, truncated = (), False  # nothing of it counts, so nothing more to fetch
    return RawFulfillmentOrder(fo.key("id").as_str(), location_id, assignments, truncated)


def fulfillment_line(node: Field, location_id: str) -> Assignment:
    """One FulfillmentOrderLineItem node (`lineItem { id } totalQuantity`)."""
    return Assignment(
        line_id=node.key("lineItem").key("id").as_str(),
        location_id=location_id,
        quantity=node.key("totalQuantity").as_int(),
    )


def order_record(order: RawOrder) -> OrderRecord:
    """A complete RawOrder → OrderRecord, each line at the location its fulfillment order assigns.

    A line split across fulfillment orders at several locations becomes one record per location
    (id `<line gid>?location_id=<n>`, quantity as assigned there); a line in no fulfillment order
    (nothing to ship) keeps an empty location. Lines without a SKU cannot be matched to stock and
    are left out.
    """
    by_line: dict[str, dict[str, int]] = {}
    for a in order.assignments:
        if a.quantity > 0:  # a moved-away fulfillment order keeps its line at quantity 0
            per_location = by_line.setdefault(a.line_id, {})
            per_location[a.location_id] = per_location.get(a.location_id, 0) + a.quantity
    records: list[OrderLineRecord] = []
    for line in order.lines:
        if not line.sku:
            continue
        locations = by_line.get(line.line_id, {})
        if len(locations) <= 1:
            location_id = next(iter(locations), "")
            records.append(OrderLineRecord(line.line_id, location_id, line.sku, line.quantity))
            continue
        for location_id, quantity in locations.items():
            number = location_id.rsplit("/", 1)[-1]
            records.append(OrderLineRecord(f"{line.line_id}?location_id={number}", location_id, line.sku, quantity))
    return OrderRecord(
        source_order_id=order.order_id,
        name=order.name,
        channel=order.channel,
        placed_at=order.created_at,
        lines=tuple(records),
        raw=order.raw,
    )
