"""The Shopify objects the sandbox serves, rendered from the World (read under `World.lock`).

Each class answers the GraphQL fields of one Shopify type; `api.resolve_field` maps a camelCase
field to the snake_case attribute or method here (arguments become keyword arguments).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from graphql import GraphQLError

from inventory_hub.sandbox.shopify import search
from inventory_hub.sandbox.shopify.paging import Connection, Key, paginate
from inventory_hub.sandbox.world import (
    SHOPIFY_QUANTITY_NAMES,
    Item,
    Location,
    ShopLevel,
    ShopOrder,
    ShopOrderLine,
    World,
)

_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>\d+)(?:\?(?P<query>.*))?$")
_CHANNEL_NAMES = {"web": "Online Store", "marketplace": "Marketplace", "pickup": "In-store pickup"}
# A FulfillmentOrder has no row in the World: its number is the order's legacy id × 1000 + the
# position (1, 2, …) of its location among the order's lines.
FULFILLMENT_ORDERS_PER_ORDER = 1000


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def level_gid(location: Location, item: Item) -> str:
    return f"gid://shopify/InventoryLevel/{location.shopify_id}?inventory_item_id={item.shopify_item_id}"


def iso(moment: dt.datetime | None) -> str | None:
    """Shopify's DateTime: UTC, whole seconds, `Z`."""
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sort_time(moment: dt.datetime) -> str:
    """A sortable, JSON-friendly cursor value for a timestamp (keeps microseconds)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_gid(value: str, kind: str) -> tuple[int, dict[str, list[str]]] | None:
    """The number (and query string) of a `kind` gid; None for another kind; an error if no gid."""
    m = _GID.match(value)
    if m is None:
        raise GraphQLError(
            f"Invalid global id '{value}'",
            extensions={"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"},
        )
    if m["kind"] != kind:
        return None
    return int(m["id"]), parse_qs(m["query"] or "")


@dataclasses.dataclass
class Context:
    """One request's view of the world, plus the indexes the API keeps between requests."""

    world: World
    cache: dict[str, tuple[Any, Any]]
    search_reports: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    path: list[str | int] = dataclasses.field(default_factory=list)

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        w = self.world
        # Rows are only ever added to these collections, so their sizes version the indexes.
        token = (id(w), len(w.locations), len(w.items), len(w.shop_levels), len(w.shop_orders))
        hit = self.cache.get(name)
        if hit is None or hit[0] != token:
            hit = (token, build())
            self.cache[name] = hit
        return hit[1]

    def levels_by_location(self) -> dict[str, tuple[list[Key], list[ShopLevel]]]:
        """Per location code, its levels ascending by inventory item id."""
        return self._cached("levels_by_location", lambda: self._group_levels(by_location=True))

    def levels_by_sku(self) -> dict[str, tuple[list[Key], list[ShopLevel]]]:
        """Per SKU, its levels ascending by location id."""
        return self._cached("levels_by_sku", lambda: self._group_levels(by_location=False))

    def _group_levels(self, *, by_location: bool) -> dict[str, tuple[list[Key], list[ShopLevel]]]:
        w = self.world
        groups: dict[str, list[tuple[Key, ShopLevel]]] = {}
        for (code, sku), level in w.shop_levels.items():
            if code not in w.locations or sku not in w.items:
                continue
            number = w.items[sku].shopify_item_id if by_location else w.locations[code].shopify_id
            groups.setdefault(code if by_location else sku, []).append(((number, number), level))
        return {name: _unzip(sorted(rows, key=lambda r: r[0])) for name, rows in groups.items()}

    def item_updated_at(self, item: Item) -> dt.datetime:
        """An item counts as updated when any of its levels is (see the package docstring)."""
        levels = self.levels_by_sku().get(item.sku, ([], []))[1]
        return max([item.created_at, *(level.updated_at for level in levels)])

    def report_search(self, query: str | None, warnings: list[dict[str, str]]) -> None:
        if query and warnings:
            self.search_reports.append({"path": list(self.path), "query": query, "warnings": warnings})

    def filtered(
        self, query: str | None, fields: dict[str, search.SearchField], default: tuple[str, ...]
    ) -> Callable[[Any], bool] | None:
        warnings: list[dict[str, str]] = []
        match = search.matcher(query, fields, default, warnings)
        self.report_search(query, warnings)
        return match


def _unzip(rows: list[tuple[Key, Any]]) -> tuple[list[Key], list[Any]]:
    return [k for k, _ in rows], [r for _, r in rows]


def _page(keys: list[Key], rows: list[Any], to_node: Callable[[Any], Any], **args: Any) -> Connection:
    return paginate(
        keys,
        rows,
        to_node=to_node,
        match=args.get("match"),
        first=args.get("first"),
        last=args.get("last"),
        after=args.get("after"),
        before=args.get("before"),
        reverse=bool(args.get("reverse")),
    )


def _paging(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: kw.get(k) for k in ("first", "last", "after", "before", "reverse")}


_LEVEL_FIELDS = {
    "updated_at": search.SearchField("datetime", lambda lv: lv.updated_at),
    "created_at": search.SearchField("datetime", lambda lv: lv.created_at),
}


class Root:
    """QueryRoot."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def locations(self, *, query: str | None = None, sort_key: str = "NAME", **kw: Any) -> Connection:
        ctx = self.ctx
        fields = {
            "name": search.SearchField("str", lambda loc: loc.name),
            "id": search.SearchField("int", lambda loc: loc.shopify_id),
            "active": search.SearchField("bool", lambda _loc: True),
        }
        match = ctx.filtered(query, fields, ("name",))
        by_name = sort_key == "NAME"
        rows = sorted(
            ((loc.name if by_name else loc.shopify_id, loc.shopify_id), loc) for loc in ctx.world.locations.values()
        )
        keys, locs = _unzip(rows)
        return _page(keys, locs, lambda loc: LocationNode(ctx, loc), match=match, **_paging(kw))

    def location(self, id: str | None = None) -> LocationNode | None:  # noqa: A002 - Shopify's argument name
        if id is None:
            return None
        parsed = parse_gid(id, "Location")
        loc = parsed and self.ctx.world.location_by_shopify_id(parsed[0])
        return LocationNode(self.ctx, loc) if loc else None

    def inventory_items(self, *, query: str | None = None, **kw: Any) -> Connection:
        ctx = self.ctx
        fields = {
            "sku": search.SearchField("str", lambda item: item.sku),
            "id": search.SearchField("int", lambda item: item.shopify_item_id),
            "created_at": search.SearchField("datetime", lambda item: item.created_at),
            "updated_at": search.SearchField("datetime", ctx.item_updated_at),
        }
        match = ctx.filtered(query, fields, ("sku",))
        keys, items = ctx._cached(
            "items",
            lambda: _unzip(sorted(((i.shopify_item_id, i.shopify_item_id), i) for i in ctx.world.items.values())),
        )
        return _page(keys, items, lambda item: ItemNode(ctx, item), match=match, **_paging(kw))

    def inventory_item(self, id: str) -> ItemNode | None:  # noqa: A002
        parsed = parse_gid(id, "InventoryItem")
        item = parsed and self.ctx.world.item_by_shopify_id(parsed[0])
        return ItemNode(self.ctx, item) if item else None

    def inventory_level(self, id: str) -> LevelNode | None:  # noqa: A002
        parsed = parse_gid(id, "InventoryLevel")
        if parsed is None:
            return None
        item_ids = parsed[1].get("inventory_item_id", [])
        loc = self.ctx.world.location_by_shopify_id(parsed[0])
        item = self.ctx.world.item_by_shopify_id(int(item_ids[0])) if item_ids and item_ids[0].isdigit() else None
        level = self.ctx.world.shop_levels.get((loc.code, item.sku)) if loc and item else None
        return LevelNode(self.ctx, level) if level else None

    def orders(self, *, query: str | None = None, sort_key: str = "PROCESSED_AT", **kw: Any) -> Connection:
        ctx = self.ctx
        fields = {
            "created_at": search.SearchField("datetime", lambda o: o.created_at),
            "processed_at": search.SearchField("datetime", lambda o: o.created_at),
            "updated_at": search.SearchField("datetime", lambda o: o.created_at),
            "id": search.SearchField("int", lambda o: o.legacy_id),
            "name": search.SearchField("str", lambda o: o.name),
            "source_name": search.SearchField("str", lambda o: o.channel),
            "sku": search.SearchField("str", lambda o: tuple(line.sku for line in o.lines)),
        }
        match = ctx.filtered(query, fields, ("name",))
        by_time = sort_key in ("CREATED_AT", "PROCESSED_AT", "UPDATED_AT")
        keys, orders = ctx._cached(
            f"orders:{by_time}",
            lambda: _unzip(
                sorted(
                    ((sort_time(o.created_at) if by_time else o.legacy_id, o.legacy_id), o)
                    for o in ctx.world.shop_orders
                )
            ),
        )
        return _page(keys, orders, lambda o: OrderNode(ctx, o), match=match, **_paging(kw))


class LocationNode:
    def __init__(self, ctx: Context, loc: Location) -> None:
        self.ctx, self.loc = ctx, loc
        self.id = gid("Location", loc.shopify_id)
        self.legacy_resource_id = str(loc.shopify_id)
        self.name = loc.name
        self.is_active = True
        self.fulfills_online_orders = True
        self.ships_inventory = True
        self.is_fulfillment_service = False
        self.deactivated_at = None
        self.created_at = self.updated_at = iso(ctx.world.start)

    @property
    def has_active_inventory(self) -> bool:
        return self.loc.code in self.ctx.levels_by_location()

    def inventory_levels(self, *, query: str | None = None, **kw: Any) -> Connection:
        ctx = self.ctx
        fields = {
            **_LEVEL_FIELDS,
            "inventory_item_id": search.SearchField("int", lambda lv: ctx.world.items[lv.sku].shopify_item_id),
        }
        match = ctx.filtered(query, fields, ())
        keys, levels = ctx.levels_by_location().get(self.loc.code, ([], []))
        return _page(keys, levels, lambda lv: LevelNode(ctx, lv), match=match, **_paging(kw))

    def inventory_level(self, inventory_item_id: str) -> LevelNode | None:
        parsed = parse_gid(inventory_item_id, "InventoryItem")
        item = parsed and self.ctx.world.item_by_shopify_id(parsed[0])
        level = self.ctx.world.shop_levels.get((self.loc.code, item.sku)) if item else None
        return LevelNode(self.ctx, level) if level else None


class LevelNode:
    def __init__(self, ctx: Context, level: ShopLevel) -> None:
        self.ctx, self.level = ctx, level
        self._loc = ctx.world.locations[level.location]
        self._item = ctx.world.items[level.sku]
        self.id = level_gid(self._loc, self._item)
        self.created_at = iso(level.created_at)
        self.updated_at = iso(level.updated_at)
        self.deactivation_alert = None

    @property
    def can_deactivate(self) -> bool:
        q = self.level.quantities
        return q.get("committed", 0) == 0 and q.get("incoming", 0) == 0

    @property
    def item(self) -> ItemNode:
        return ItemNode(self.ctx, self._item)

    @property
    def location(self) -> LocationNode:
        return LocationNode(self.ctx, self._loc)

    def quantities(self, names: list[str]) -> list[dict[str, Any]]:
        unknown = [n for n in names if n not in SHOPIFY_QUANTITY_NAMES]
        if unknown:
            raise GraphQLError(
                f"The specified quantity name is invalid: {', '.join(unknown)}. "
                f"Valid values are: {', '.join(SHOPIFY_QUANTITY_NAMES)}.",
                extensions={"code": "INVALID_QUANTITY_NAME"},
            )
        base = f"gid://shopify/InventoryQuantity/{self._loc.shopify_id}?inventory_item_id={self._item.shopify_item_id}"
        return [
            {
                "id": f"{base}&name={name}",
                "name": name,
                "quantity": self.level.quantities.get(name, 0),
                "updatedAt": iso(self.level.quantity_updated_at.get(name)),
            }
            for name in names
        ]


class ItemNode:
    def __init__(self, ctx: Context, item: Item) -> None:
        self.ctx, self.item = ctx, item
        self.id = gid("InventoryItem", item.shopify_item_id)
        self.legacy_resource_id = str(item.shopify_item_id)
        self.sku = item.sku
        self.tracked = True
        self.requires_shipping = True
        self.created_at = iso(item.created_at)

    @property
    def updated_at(self) -> str | None:
        return iso(self.ctx.item_updated_at(self.item))

    @property
    def variant(self) -> VariantNode:
        return VariantNode(self.ctx, self.item)

    def inventory_levels(self, *, query: str | None = None, **kw: Any) -> Connection:
        ctx = self.ctx
        fields = {
            **_LEVEL_FIELDS,
            "location_id": search.SearchField("int", lambda lv: ctx.world.locations[lv.location].shopify_id),
        }
        match = ctx.filtered(query, fields, ())
        keys, levels = ctx.levels_by_sku().get(self.item.sku, ([], []))
        return _page(keys, levels, lambda lv: LevelNode(ctx, lv), match=match, **_paging(kw))

    def inventory_level(self, location_id: str) -> LevelNode | None:
        parsed = parse_gid(location_id, "Location")
        loc = parsed and self.ctx.world.location_by_shopify_id(parsed[0])
        level = self.ctx.world.shop_levels.get((loc.code, self.item.sku)) if loc else None
        return LevelNode(self.ctx, level) if level else None


class VariantNode:
    def __init__(self, ctx: Context, item: Item) -> None:
        self.ctx, self.item = ctx, item
        self.id = gid("ProductVariant", item.shopify_variant_id)
        self.legacy_resource_id = str(item.shopify_variant_id)
        self.sku = item.sku
        self.title = "Default Title"
        self.display_name = f"{item.title} - Default Title"

    @property
    def inventory_item(self) -> ItemNode:
        return ItemNode(self.ctx, self.item)


def _channel_number(channel: str) -> int:
    return zlib.crc32(channel.encode()) % 1_000_000 + 1


class OrderNode:
    def __init__(self, ctx: Context, order: ShopOrder) -> None:
        self.ctx, self.order = ctx, order
        self.id = gid("Order", order.legacy_id)
        self.legacy_resource_id = str(order.legacy_id)
        self.name = order.name
        # A sandbox order never changes after it is placed, so all three times are its creation.
        self.created_at = self.processed_at = self.updated_at = iso(order.created_at)
        self.source_name = order.channel

    @property
    def channel_information(self) -> dict[str, Any]:
        channel = self.order.channel
        number = _channel_number(channel)
        name = _CHANNEL_NAMES.get(channel, channel.replace("_", " ").title())
        return {
            "id": gid("ChannelInformation", number),
            "channelId": gid("Channel", number),
            "app": {"id": gid("App", number), "title": name, "handle": channel},
            "channelDefinition": {
                "id": gid("ChannelDefinition", number),
                "handle": channel,
                "channelName": name,
                "subChannelName": name,
                "isMarketplace": channel == "marketplace",
                "svgIcon": None,
            },
        }

    def line_items(self, **kw: Any) -> Connection:
        lines = sorted(self.order.lines, key=lambda line: line.legacy_id)
        keys = [(line.legacy_id, line.legacy_id) for line in lines]
        return _page(keys, lines, lambda line: LineNode(self.ctx, line), **_paging(kw))

    def fulfillment_orders(self, **kw: Any) -> Connection:
        groups: dict[str, list[ShopOrderLine]] = {}
        for line in self.order.lines:
            groups.setdefault(line.location, []).append(line)
        numbers = [self.order.legacy_id * FULFILLMENT_ORDERS_PER_ORDER + n for n in range(1, len(groups) + 1)]
        rows = [
            FulfillmentOrderNode(self, number, code, lines)
            for number, (code, lines) in zip(numbers, groups.items(), strict=True)
        ]
        return _page([(n, n) for n in numbers], rows, lambda fo: fo, **_paging(kw))


class FulfillmentOrderNode:
    def __init__(self, order: OrderNode, number: int, location_code: str, lines: list[ShopOrderLine]) -> None:
        self.ctx, self.lines = order.ctx, lines
        self.id = gid("FulfillmentOrder", number)
        self.status = "OPEN"
        self.created_at = self.updated_at = order.created_at
        self.order_id = order.id
        self.order_name = order.name
        loc = order.ctx.world.locations.get(location_code)
        self.assigned_location = {
            "name": loc.name if loc else location_code,
            "location": LocationNode(order.ctx, loc) if loc else None,
        }

    def line_items(self, **kw: Any) -> Connection:
        lines = sorted(self.lines, key=lambda line: line.legacy_id)
        keys = [(line.legacy_id, line.legacy_id) for line in lines]
        return _page(keys, lines, lambda line: FulfillmentOrderLineNode(self.ctx, line), **_paging(kw))


class LineNode:
    def __init__(self, ctx: Context, line: ShopOrderLine) -> None:
        self.ctx = ctx
        self._item = ctx.world.items.get(line.sku)
        self.id = gid("LineItem", line.legacy_id)
        self.sku = line.sku
        self.quantity = self.current_quantity = line.quantity
        self.title = self._item.title if self._item else line.sku
        self.name = self.title

    @property
    def variant(self) -> VariantNode | None:
        return VariantNode(self.ctx, self._item) if self._item else None


class FulfillmentOrderLineNode:
    def __init__(self, ctx: Context, line: ShopOrderLine) -> None:
        self.ctx, self.line = ctx, line
        self._item = ctx.world.items.get(line.sku)
        self.id = gid("FulfillmentOrderLineItem", line.legacy_id)
        self.sku = line.sku
        # Nothing is fulfilled in the sandbox: every unit is still to ship.
        self.total_quantity = self.remaining_quantity = line.quantity
        self.inventory_item_id = gid("InventoryItem", self._item.shopify_item_id) if self._item else None

    @property
    def line_item(self) -> LineNode:
        return LineNode(self.ctx, self.line)

    @property
    def variant(self) -> VariantNode | None:
        return VariantNode(self.ctx, self._item) if self._item else None
