"""The simulated Shopify Admin GraphQL API (API version 2025-04): the retailer's storefront.

`ShopifyApi.handle` serves `POST /admin/api/{version}/graphql.json` by executing the query with
graphql-core against `schemas/shopify_admin_2025-04.subset.graphql`, a verbatim subset of
Shopify's published 2025-04 schema, so a query the sandbox accepts is valid against Shopify too.

Served: `locations`, `location(id:)` (+ `inventoryLevels`, `inventoryLevel(inventoryItemId:)`),
`inventoryItems(query:)`, `inventoryItem(id:)` (+ `inventoryLevel(locationId:)`,
`inventoryLevels`), `inventoryLevel(id:)` and `orders(query:, sortKey:, reverse:)`.

Design choices, where Shopify leaves room or the World holds less than Shopify does:

- Where an order line ships from: `Order.fulfillmentOrders`. Lines are grouped by their
  `ShopOrderLine.location`, one FulfillmentOrder per location (status OPEN) whose
  `assignedLocation { location { id } }` is that location and whose `lineItems { nodes
  { lineItem { id } totalQuantity remainingQuantity } }` are its lines. FulfillmentOrder ids are
  the order's legacy id × 1000 + n (n = 1, 2, … by first appearance of the location).
- The sales channel: `Order.sourceName` is the World's channel code (`web`, `marketplace`,
  `pickup`); `Order.channelInformation { channelDefinition { handle channelName } }` repeats it
  (handle = the code) for clients that read that instead.
- Orders never change after placement in the World, so `updatedAt` = `processedAt` =
  `createdAt`, and `updated_at:` filters and the UPDATED_AT sort key use the creation time.
- `InventoryItem.updatedAt` is the latest `updatedAt` of the item's levels (or its creation),
  so `inventoryItems(query: "updated_at:>'…'")` finds the items whose stock changed.
- `InventoryQuantity.id` is `gid://shopify/InventoryQuantity/{locationId}?inventory_item_id=
  {itemId}&name={name}` (the shape is the sandbox's own).
- Search (`query:`) supports the fields listed in nodes.py; an unknown field is ignored and
  reported in `extensions.search`, as Shopify does.
- Cursors are base64 JSON `{"last_id", "last_value"}` of the sort key, like Shopify's.
- The wording of three errors is the sandbox's own (not confirmed against Shopify): a page
  size over 250, an unknown quantity name (code INVALID_QUANTITY_NAME), and a bad cursor.
"""

from __future__ import annotations

from inventory_hub.sandbox.shopify.api import API_VERSION, ShopifyApi

__all__ = ["API_VERSION", "ShopifyApi"]
