"""The Shopify adapter (storefront role): locations, inventory levels and orders over Admin GraphQL.

Page sizes are chosen so each query's requested cost (Shopify's rule: an object costs 1, a
connection 2 + first × the cost of one node, scalars 0) stays about half of Shopify's
1,000-point single-query limit, which leaves room if Shopify prices a field higher than that
rule says (e.g. a list of objects per element) and keeps each query well inside a Standard
plan's bucket. The costs are written next to each query and checked by the tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from inventory_hub.connectors.base import (
    Adapter,
    ConnectorConfig,
    ExternalLocation,
    OrderRecord,
    Page,
    PositionRecord,
)
from inventory_hub.connectors.shopify import parsing
from inventory_hub.connectors.shopify.client import ShopifyClient
from inventory_hub.connectors.shopify.parsing import Assignment, Field, RawOrder

LOCATIONS_PAGE_SIZE = 250  # Shopify's maximum page size
LOCATIONS_COST = 2 + LOCATIONS_PAGE_SIZE * 1
LOCATIONS_QUERY = f"""
query Locations($after: String) {{
  locations(first: {LOCATIONS_PAGE_SIZE}, after: $after, includeInactive: false) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ id name isActive }}
  }}
}}
"""

# One level = the node 1 + item 1 + quantities 1. At 100 per page the query costs 303; even if
# Shopify charged each of the five quantities separately it would cost 703, still under 1,000.
LEVELS_PAGE_SIZE = 100
LEVELS_COST = 1 + 2 + LEVELS_PAGE_SIZE * 3
# `$query` is null for a full read; search arguments add nothing to the cost.
LEVELS_QUERY = f"""
query LevelsAtLocation($locationId: ID!, $after: String, $query: String) {{
  location(id: $locationId) {{
    id
    inventoryLevels(first: {LEVELS_PAGE_SIZE}, after: $after, query: $query) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        updatedAt
        item {{ sku }}
        quantities(names: [{", ".join(f'"{n}"' for n in parsing.QUANTITY_NAMES)}]) {{ name quantity updatedAt }}
      }}
    }}
  }}
}}
"""

# Nested connections multiply cost, so the orders page fetches a few lines and fulfillment orders
# per order (enough for nearly every retail order) and fetches the rest of a bigger order with
# the follow-up queries below. Per order: 1 + lineItems (2 + 10) + fulfillmentOrders
# (2 + 2 × (1 + assignedLocation.location 2 + lineItems (2 + 10 × 2))) = 65; 7 orders cost 457.
ORDERS_PAGE_SIZE = 7
ORDER_LINES_PAGE_SIZE = 10
FULFILLMENT_ORDERS_PAGE_SIZE = 2
FULFILLMENT_LINES_PAGE_SIZE = 10
_FULFILLMENT_ORDER_COST = 1 + 2 + (2 + FULFILLMENT_LINES_PAGE_SIZE * 2)
ORDER_COST = 1 + (2 + ORDER_LINES_PAGE_SIZE) + (2 + FULFILLMENT_ORDERS_PAGE_SIZE * _FULFILLMENT_ORDER_COST)
ORDERS_COST = 2 + ORDERS_PAGE_SIZE * ORDER_COST
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
_LINE_FIELDS = "id sku quantity"
_FULFILLMENT_LINE_FIELDS = "lineItem { id } totalQuantity"
ORDERS_QUERY = f"""
query Orders($after: String, $query: String) {{
  orders(first: {ORDERS_PAGE_SIZE}, after: $after, sortKey: CREATED_AT, query: $query) {{
    {_PAGE_INFO}
    nodes {{
      id
      name
      createdAt
      sourceName
      lineItems(first: {ORDER_LINES_PAGE_SIZE}) {{ {_PAGE_INFO} nodes {{ {_LINE_FIELDS} }} }}
      fulfillmentOrders(first: {FULFILLMENT_ORDERS_PAGE_SIZE}) {{
        {_PAGE_INFO}
        nodes {{
          id
          status
          assignedLocation {{ location {{ id }} }}
          lineItems(first: {FULFILLMENT_LINES_PAGE_SIZE}) {{ {_PAGE_INFO} nodes {{ {_FULFILLMENT_LINE_FIELDS} }} }}
        }}
      }}
    }}
  }}
}}
"""

# Follow-ups for an order whose nested pages were cut short.
ORDER_LINES_COST = 1 + 2 + 250 * 1
ORDER_LINES_QUERY = f"""
query OrderLines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: 250, after: $after) {{ {_PAGE_INFO} nodes {{ {_LINE_FIELDS} }} }}
  }}
}}
"""
ORDER_FULFILLMENT_ORDERS_COST = 1 + 2 + 5 * (1 + 2 + (2 + 40 * 2))
ORDER_FULFILLMENT_ORDERS_QUERY = f"""
query OrderFulfillmentOrders($id: ID!, $after: String) {{
  order(id: $id) {{
    fulfillmentOrders(first: 5, after: $after) {{
      {_PAGE_INFO}
      nodes {{
        id
        status
        assignedLocation {{ location {{ id }} }}
        lineItems(first: 40) {{ {_PAGE_INFO} nodes {{ {_FULFILLMENT_LINE_FIELDS} }} }}
      }}
    }}
  }}
}}
"""
FULFILLMENT_ORDER_LINES_COST = 1 + 2 + 200 * 2
FULFILLMENT_ORDER_LINES_QUERY = f"""
query FulfillmentOrderLines($id: ID!, $after: String) {{
  fulfillmentOrder(id: $id) {{
    lineItems(first: 200, after: $after) {{ {_PAGE_INFO} nodes {{ {_FULFILLMENT_LINE_FIELDS} }} }}
  }}
}}
"""

# (document, expected requested cost) of every query the adapter sends; the tests validate each
# document against Shopify's schema and check each cost against Shopify's pricing rule.
QUERIES: dict[str, tuple[str, int]] = {
    "Locations": (LOCATIONS_QUERY, LOCATIONS_COST),
    "LevelsAtLocation": (LEVELS_QUERY, LEVELS_COST),
    "Orders": (ORDERS_QUERY, ORDERS_COST),
    "OrderLines": (ORDER_LINES_QUERY, ORDER_LINES_COST),
    "OrderFulfillmentOrders": (ORDER_FULFILLMENT_ORDERS_QUERY, ORDER_FULFILLMENT_ORDERS_COST),
    "FulfillmentOrderLines": (FULFILLMENT_ORDER_LINES_QUERY, FULFILLMENT_ORDER_LINES_COST),
}


class ShopifyAdapter(Adapter):
    """Shopify Admin GraphQL API, as a storefront: per-location inventory levels and orders."""

    product: ClassVar[str] = "shopify"
    roles: ClassVar[frozenset[str]] = frozenset({"storefront"})
    # Location.inventoryLevels(query: "updated_at:>=…"): a level's updatedAt moves with any of its quantities.
    reads_changed_positions: ClassVar[bool] = True

    def __init__(self, config: ConnectorConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._client: ShopifyClient | None = None

    @property
    def client(self) -> ShopifyClient:
        """The GraphQL client, made on first use so a missing token surfaces as a ConnectorError."""
        if self._client is None:
            self._client = ShopifyClient(self.config, transport=self.transport, sleep=self.sleep, clock=self.clock)
        return self._client

    def close(self) -> None:
        """Release the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def locations(self) -> list[ExternalLocation]:
        """Every active Shopify location."""
        found: list[ExternalLocation] = []
        after: str | None = None
        while True:
            body = self.client.execute(LOCATIONS_QUERY, {"after": after}, cost=LOCATIONS_COST)
            records, info = parsing.parse_locations(body)
            found += records
            if not info.has_next_page:
                return found
            after = info.end_cursor

    def positions(self, *, changed_since: dt.datetime | None = None) -> Iterator[Page[PositionRecord]]:
        """Inventory levels (all, or updated since) at every active location, one page per response."""
        # `>=`: "at or after", and the rounding down to whole seconds only widens the window.
        search = None if changed_since is None else f"updated_at:>='{search_time(changed_since)}'"
        for location in self.locations():
            after: str | None = None
            while True:
                variables: dict[str, Any] = {"locationId": location.external_id, "after": after}
                if search is not None:
                    variables["query"] = search
                body = self.client.execute(LEVELS_QUERY, variables, cost=LEVELS_COST)
                records, info = parsing.parse_levels(body)
                yield Page(tuple(records))
                if not info.has_next_page:
                    break
                after = info.end_cursor

    def orders(self, *, since: str | None) -> Iterator[Page[OrderRecord]]:
        """Orders created at or after the cursor (a `createdAt`), oldest first, one page per response."""
        start = since if since is not None else _history_start(self.config.options)
        # `>=` rather than `>`: createdAt has whole seconds, so another order may share the
        # cursor's second; the pipeline deduplicates the one seen twice.
        search = f"created_at:>='{start}'" if start else None
        cursor = start
        after: str | None = None
        while True:
            body = self.client.execute(ORDERS_QUERY, {"after": after, "query": search}, cost=ORDERS_COST)
            raw_orders, info = parsing.parse_orders(body)
            records = [parsing.order_record(self._complete(order)) for order in raw_orders]
            if raw_orders:
                cursor = raw_orders[-1].created_at_text
            yield Page(tuple(records), cursor=cursor)
            if not info.has_next_page:
                return
            after = info.end_cursor

    def _complete(self, order: RawOrder) -> RawOrder:
        """Fetch what the orders page cut short of a big order: all its lines and assignments."""
        if order.lines_truncated:
            nodes = self._drain(ORDER_LINES_QUERY, order.order_id, ("order", "lineItems"), ORDER_LINES_COST)
            order = dataclasses.replace(order, lines=tuple(parsing.parse_line(n) for n in nodes), lines_truncated=False)
        if order.fulfillment_orders_truncated:
            assignments: list[Assignment] = []
            path = ("order", "fulfillmentOrders")
            for node in self._drain(
                ORDER_FULFILLMENT_ORDERS_QUERY, order.order_id, path, ORDER_FULFILLMENT_ORDERS_COST
            ):
                fo = parsing.parse_fulfillment_order(node)
                if fo.lines_truncated:
                    lines = self._drain(
                        FULFILLMENT_ORDER_LINES_QUERY,
                        fo.fulfillment_order_id,
                        ("fulfillmentOrder", "lineItems"),
                        FULFILLMENT_ORDER_LINES_COST,
                    )
                    assignments += [parsing.fulfillment_line(n, fo.location_id) for n in lines]
                else:
                    assignments += fo.assignments
            order = dataclasses.replace(order, assignments=tuple(assignments), fulfillment_orders_truncated=False)
        return order

    def _drain(self, query: str, node_id: str, path: tuple[str, ...], cost: int) -> list[Field]:
        """Every node of the connection at `path`, following its pages from the start."""
        nodes: list[Field] = []
        after: str | None = None
        while True:
            body = self.client.execute(query, {"id": node_id, "after": after}, cost=cost)
            page, info = parsing.connection_at(body, *path)
            nodes += page
            if not info.has_next_page:
                return nodes
            after = info.end_cursor


def search_time(moment: dt.datetime) -> str:
    """A timestamp for Shopify's search syntax: UTC ISO 8601, whole seconds rounded down."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _history_start(options: Mapping[str, Any]) -> str | None:
    value = options.get("history_start")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else None
