"""The simulated retailer's state: what its WMS, ERP and storefront each hold right now.

The simulation (simulation.py) writes it; the three HTTP APIs (shiphero.py, erpnext.py,
shopify.py) only read it, under `World.lock`, and render it in each product's own shapes.
Everything here is plain data in the products' own terms; ground truth lives in truth.py.
Times are timezone-aware UTC datetimes (the ERP renders its own clock, see `erp_clock_offset`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

from inventory_hub.sandbox.truth import GroundTruth

Key = tuple[str, str]  # (location code, sku)

# Shopify's named inventory quantities (APIS.md §1.1).
SHOPIFY_QUANTITY_NAMES = (
    "available",
    "committed",
    "reserved",
    "damaged",
    "safety_stock",
    "quality_control",
    "incoming",
    "on_hand",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Location:
    """A site of the retailer, with its id in each of the three systems."""

    code: str
    name: str
    kind: str  # store | fulfillment_center | distribution_center
    time_zone: str
    shopify_id: int  # gid://shopify/Location/<shopify_id>
    shiphero_id: int  # legacy warehouse id; GraphQL id is base64("Warehouse:<id>")
    erp_warehouse: str  # ERPNext Warehouse name, e.g. "Store B - ACME"
    bins: tuple[str, ...]  # WMS bins; the first is where receipts go
    non_sellable_bins: frozenset[str]  # e.g. {"QUARANTINE"}: on hand, never available


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    """A SKU, with its ids in each system."""

    sku: str
    title: str
    shopify_item_id: int  # gid://shopify/InventoryItem/<id>
    shopify_variant_id: int  # gid://shopify/ProductVariant/<id>
    shiphero_product_id: int
    created_at: dt.datetime


# --- WMS (ShipHero) ----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class WmsProduct:
    """ShipHero's WarehouseProduct: one SKU in one warehouse, with its bins."""

    location: str
    sku: str
    legacy_id: int
    bins: dict[str, int]
    allocated: int
    reserve: int  # reserve_inventory: held back from every sales channel
    non_sellable_bins: frozenset[str]
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def on_hand(self) -> int:
        return sum(self.bins.values())

    @property
    def non_sellable(self) -> int:
        return sum(q for b, q in self.bins.items() if b in self.non_sellable_bins)

    @property
    def available(self) -> int:
        """What ShipHero would tell sales channels: sellable on hand − allocated − reserve."""
        return max(0, self.on_hand - self.non_sellable - self.allocated - self.reserve)

    @property
    def backorder(self) -> int:
        return max(0, self.allocated - (self.on_hand - self.non_sellable))


@dataclasses.dataclass(frozen=True, slots=True)
class WmsChange:
    """ShipHero's InventoryChange: one change of on-hand in one bin (its count-event history)."""

    legacy_id: int
    location: str
    sku: str
    bin: str
    previous_on_hand: int  # warehouse-level on hand before the change
    change_in_on_hand: int
    reason: str
    cycle_counted: bool
    user_id: int
    created_at: dt.datetime


# --- ERP (ERPNext) -----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class ErpBin:
    """ERPNext's Bin: the balance of one item in one warehouse, as of the ERP's last sync."""

    name: str  # MAT-BIN-.YYYY.-.#####
    location: str
    sku: str
    actual_qty: float
    reserved_qty: float
    ordered_qty: float
    creation: dt.datetime
    modified: dt.datetime

    @property
    def projected_qty(self) -> float:
        return self.actual_qty + self.ordered_qty - self.reserved_qty


@dataclasses.dataclass(frozen=True, slots=True)
class ErpLedgerEntry:
    """ERPNext's Stock Ledger Entry: one posted movement, with its running balance."""

    name: str  # MAT-SLE-.YYYY.-.#####
    location: str
    sku: str
    posting_datetime: dt.datetime  # when the movement happened (true time)
    creation: dt.datetime  # when the ERP recorded it, its sync (true time; served on the ERP's clock)
    voucher_type: str  # Stock Reconciliation | Purchase Receipt | Delivery Note | Stock Entry
    voucher_no: str
    actual_qty: float
    qty_after_transaction: float
    is_cancelled: int = 0


# --- Storefront (Shopify) ----------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class ShopLevel:
    """Shopify's InventoryLevel: named quantities of one item at one location."""

    location: str
    sku: str
    quantities: dict[str, int]
    quantity_updated_at: dict[str, dt.datetime | None]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class ShopOrderLine:
    legacy_id: int  # gid://shopify/LineItem/<id>
    sku: str
    quantity: int
    location: str  # the location the line is to be fulfilled from


@dataclasses.dataclass(frozen=True, slots=True)
class ShopOrder:
    """A storefront order: gid://shopify/Order/<legacy_id>, name like #1001."""

    legacy_id: int
    name: str
    channel: str  # the sales channel code (web, marketplace, pickup)
    created_at: dt.datetime
    lines: tuple[ShopOrderLine, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """What each system accepts; anything else gets that product's own auth error."""

    shopify_access_token: str = "shpat_sandbox_token"
    shiphero_access_token: str = "shiphero-sandbox-token"
    erpnext_api_key: str = "sandbox-key"
    erpnext_api_secret: str = "sandbox-secret"
    # What the sandbox's Shopify and ShipHero sign their webhooks with (the hub verifies it).
    webhook_secret: str = "sandbox-webhook-secret"


@dataclasses.dataclass
class World:
    """The whole simulated retailer at `now`. Read it only while holding `lock`."""

    scenario: str
    seed: int
    company: str
    start: dt.datetime
    now: dt.datetime
    erp_clock_offset: dt.timedelta  # the ERP stamps creation/modified with its own skewed clock
    erp_time_zone: str
    locations: dict[str, Location]
    items: dict[str, Item]
    wms_products: dict[Key, WmsProduct] = dataclasses.field(default_factory=dict)
    wms_changes: list[WmsChange] = dataclasses.field(default_factory=list)
    erp_bins: dict[Key, ErpBin] = dataclasses.field(default_factory=dict)
    erp_ledger: list[ErpLedgerEntry] = dataclasses.field(default_factory=list)
    shop_levels: dict[Key, ShopLevel] = dataclasses.field(default_factory=dict)
    shop_orders: list[ShopOrder] = dataclasses.field(default_factory=list)
    credentials: Credentials = dataclasses.field(default_factory=Credentials)
    truth: GroundTruth = dataclasses.field(default_factory=GroundTruth)
    lock: threading.RLock = dataclasses.field(default_factory=threading.RLock, repr=False, compare=False)

    def erp_clock(self, at: dt.datetime) -> dt.datetime:
        """What the ERP's own clock reads at true time `at`."""
        return at + self.erp_clock_offset

    def location_by_shopify_id(self, shopify_id: int) -> Location | None:
        return next((loc for loc in self.locations.values() if loc.shopify_id == shopify_id), None)

    def location_by_shiphero_id(self, shiphero_id: int) -> Location | None:
        return next((loc for loc in self.locations.values() if loc.shiphero_id == shiphero_id), None)

    def location_by_erp_warehouse(self, warehouse: str) -> Location | None:
        return next((loc for loc in self.locations.values() if loc.erp_warehouse == warehouse), None)

    def item_by_shopify_id(self, item_id: int) -> Item | None:
        return next((item for item in self.items.values() if item.shopify_item_id == item_id), None)
