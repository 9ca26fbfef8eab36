"""The ShipHero adapter (WMS role): warehouses, stock per warehouse and per bin, inventory changes.

Queries follow ShipHero's public GraphQL API (APIS.md §4) and validate against the real SDL
(tests/fixtures/shiphero/); `InventoryChange.id`/`legacy_id` are the 2026 schema's additions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from inventory_hub.connectors.base import (
    Adapter,
    ConnectorConfig,
    EventRecord,
    ExternalLocation,
    Page,
    PositionRecord,
    positive_int_option,
)
from inventory_hub.connectors.shiphero import parsing
from inventory_hub.connectors.shiphero.client import CreditBucket, ShipHeroClient, bucket_for

# A query costs 1 + each connection's `first` × what one of its rows costs, so a products page
# costs 1 + PAGE_SIZE × BINS_PER_PRODUCT = 1001 credits: a quarter of the 4004 bucket, and within
# the 1001 a single operation may use under ShipHero's older limits. Options override all three.
PAGE_SIZE = 50
BINS_PER_PRODUCT = 20
MORE_BINS_PAGE_SIZE = 100  # the rare product with more bins: one follow-up query costs 101
EVENTS_PAGE_SIZE = 100  # an inventory change has no nested connection: 101 credits a page

LOCATIONS_QUERY = """
query ShipHeroWarehouses {
  account {
    request_id
    complexity
    data { warehouses { id legacy_id identifier } }
  }
}
"""

_BINS_SELECTION = """
          pageInfo { hasNextPage endCursor }
          edges { node { quantity location { name sellable } } }
"""

POSITIONS_QUERY = (
    """
query ShipHeroWarehouseProducts($first: Int!, $after: String, $bins: Int!, $updated_from: ISODateTime) {
  warehouse_products(active: true, updated_from: $updated_from) {
    request_id
    complexity
    data(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          sku warehouse_id on_hand allocated available reserve_inventory updated_at
          locations(first: $bins) {"""
    + _BINS_SELECTION
    + """          }
        }
      }
    }
  }
}
"""
)

MORE_BINS_QUERY = (
    """
query ShipHeroProductBins($warehouse_id: String, $sku: String, $bins: Int!, $after: String) {
  warehouse_products(warehouse_id: $warehouse_id, sku: $sku, active: true) {
    request_id
    complexity
    data(first: 1) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          sku warehouse_id updated_at
          locations(first: $bins, after: $after) {"""
    + _BINS_SELECTION
    + """          }
        }
      }
    }
  }
}
"""
)

# `id` and `legacy_id` exist in ShipHero's current (2026) schema, not in the 2022 SDL we hold.
EVENTS_QUERY = """
query ShipHeroInventoryChanges($date_from: ISODateTime, $first: Int!, $after: String) {
  inventory_changes(date_from: $date_from) {
    request_id
    complexity
    data(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id legacy_id sku warehouse_id location_id previous_on_hand change_in_on_hand
          reason cycle_counted created_at location { name }
        }
      }
    }
  }
}
"""


class ShipHeroAdapter(Adapter):
    """ShipHero's public GraphQL API, read as the hub's WMS."""

    product = "shiphero"
    roles = frozenset({"wms"})
    # `updated_from` filters on WarehouseProduct.updated_at (UTC), which moves with on hand,
    # allocated and available (allocations and picks included); a returned product lists all its bins.
    reads_changed_positions = True

    def __init__(self, config: ConnectorConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._bucket: CreditBucket | None = None  # one estimate for every call of this adapter

    def _client(self) -> ShipHeroClient:
        if self._bucket is None:
            self._bucket = bucket_for(self.config, self.clock)
        return ShipHeroClient(self.config, bucket=self._bucket, transport=self.transport, sleep=self.sleep)

    def _option(self, name: str, default: int) -> int:
        return positive_int_option(self.config, name, default)

    def locations(self) -> list[ExternalLocation]:
        """The account's warehouses (GraphQL id and identifier)."""
        with self._client() as client:
            payload = client.query(LOCATIONS_QUERY, {}, root="account", cost=1)
        return parsing.parse_locations(payload)

    def positions(self, *, changed_since: dt.datetime | None = None) -> Iterator[Page[PositionRecord]]:
        """Active warehouse products (all, or updated since): a warehouse-level record, then its stocked bins."""
        first = self._option("page_size", PAGE_SIZE)
        bins = self._option("bins_per_product", BINS_PER_PRODUCT)
        after: str | None = None
        with self._client() as client:
            while True:
                variables: dict[str, Any] = {"first": first, "after": after, "bins": bins}
                if changed_since is not None:
                    variables["updated_from"] = iso_datetime(changed_since)
                payload = client.query(POSITIONS_QUERY, variables, root="warehouse_products", cost=1 + first * bins)
                page = parsing.parse_positions(payload)
                records = list(page.records)
                for overflow in page.overflows:
                    # Kept on the product's own page, so a page holds whole products.
                    records.extend(self._more_bins(client, overflow))
                yield Page(tuple(records))
                if not page.page_info.has_next_page:
                    return
                after = page.page_info.end_cursor

    def _more_bins(self, client: ShipHeroClient, overflow: parsing.BinOverflow) -> Iterator[PositionRecord]:
        pending: parsing.BinOverflow | None = overflow
        while pending is not None:
            variables: dict[str, Any] = {
                "warehouse_id": pending.warehouse_id,
                "sku": pending.sku,
                "bins": MORE_BINS_PAGE_SIZE,
                "after": pending.after,
            }
            payload = client.query(MORE_BINS_QUERY, variables, root="warehouse_products", cost=1 + MORE_BINS_PAGE_SIZE)
            records, pending = parsing.parse_more_bins(payload, pending)
            yield from records

    def events(self, *, since: str | None) -> Iterator[Page[EventRecord]]:
        """Inventory changes created at or after the cursor (an ISO time: `date_from` is inclusive)."""
        first = self._option("events_page_size", EVENTS_PAGE_SIZE)
        date_from = since if since is not None else self.config.options.get("history_start")
        cursor = since
        latest: dt.datetime | None = None
        after: str | None = None
        with self._client() as client:
            while True:
                variables = {"date_from": date_from, "first": first, "after": after}
                payload = client.query(EVENTS_QUERY, variables, root="inventory_changes", cost=1 + first)
                page = parsing.parse_events(payload)
                if page.records:
                    # The latest created_at so far: the last node's, as ShipHero lists oldest first; a
                    # maximum stays right even for a listing newest first (a poll is stored all or nothing).
                    page_latest = max(record.occurred_at for record in page.records)
                    latest = page_latest if latest is None else max(latest, page_latest)
                    cursor = latest.isoformat()
                yield Page(page.records, cursor=cursor)
                if not page.page_info.has_next_page:
                    return
                after = page.page_info.end_cursor


def iso_datetime(moment: dt.datetime) -> str:
    """An ISODateTime argument: UTC with its offset, whole seconds rounded down (stamps have whole seconds)."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()
