"""Small hand-built worlds for the sandbox API tests (the simulation builds the real ones)."""

from __future__ import annotations

import datetime as dt

from inventory_hub.sandbox.world import (
    SHOPIFY_QUANTITY_NAMES,
    ErpBin,
    ErpLedgerEntry,
    Item,
    Location,
    ShopLevel,
    ShopOrder,
    ShopOrderLine,
    WmsChange,
    WmsProduct,
    World,
)

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def small_world(*, skus: int = 3, now: dt.datetime | None = None) -> World:
    """Two locations (an FC and a store) × `skus` SKUs, each system holding a little history."""
    locations = {
        "FC-1": Location(
            "FC-1",
            "Fulfillment Center",
            "fulfillment_center",
            "America/Chicago",
            71001,
            76733,
            "Fulfillment Center - ACME",
            ("A-01", "QUARANTINE"),
            frozenset({"QUARANTINE"}),
        ),
        "STORE-B": Location(
            "STORE-B",
            "Store B",
            "store",
            "America/New_York",
            71002,
            76734,
            "Store B - ACME",
            ("FLOOR", "BACKROOM", "DAMAGED"),
            frozenset({"DAMAGED"}),
        ),
    }
    items = {
        f"SKU-{n:04d}": Item(f"SKU-{n:04d}", f"Tee {n}", 30_000 + n, 40_000 + n, 50_000 + n, T0)
        for n in range(1, skus + 1)
    }
    world = World(
        scenario="small",
        seed=1,
        company="ACME",
        start=T0,
        now=now or T0 + dt.timedelta(hours=2),
        erp_clock_offset=dt.timedelta(seconds=-90),
        erp_time_zone="America/Chicago",
        locations=locations,
        items=items,
    )
    legacy = 1
    for loc in locations.values():
        for n, sku in enumerate(items, start=1):
            bins = {loc.bins[0]: 40 + n, loc.bins[-1]: n % 2}
            world.wms_products[(loc.code, sku)] = WmsProduct(
                location=loc.code,
                sku=sku,
                legacy_id=legacy,
                bins=bins,
                allocated=n,
                reserve=1,
                non_sellable_bins=loc.non_sellable_bins,
                created_at=T0,
                updated_at=T0 + dt.timedelta(minutes=n),
            )
            world.wms_changes.append(
                WmsChange(
                    legacy_id=legacy,
                    location=loc.code,
                    sku=sku,
                    bin=loc.bins[0],
                    previous_on_hand=50,
                    change_in_on_hand=-(10 - n),
                    reason="Cycle count",
                    cycle_counted=True,
                    user_id=489254,
                    created_at=T0 + dt.timedelta(minutes=10 * legacy),
                )
            )
            world.erp_bins[(loc.code, sku)] = ErpBin(
                name=f"MAT-BIN-2026-{legacy:05d}",
                location=loc.code,
                sku=sku,
                actual_qty=40.0 + n,
                reserved_qty=float(n),
                ordered_qty=0.0,
                creation=T0,
                modified=T0 + dt.timedelta(minutes=15 * n),
            )
            world.erp_ledger.append(
                ErpLedgerEntry(
                    name=f"MAT-SLE-2026-{legacy:05d}",
                    location=loc.code,
                    sku=sku,
                    posting_datetime=T0 + dt.timedelta(minutes=10 * legacy),
                    creation=T0 + dt.timedelta(minutes=10 * legacy + 15),
                    voucher_type="Stock Reconciliation",
                    voucher_no=f"MAT-RECO-2026-{legacy:05d}",
                    actual_qty=-(10.0 - n),
                    qty_after_transaction=40.0 + n,
                )
            )
            quantities = dict.fromkeys(SHOPIFY_QUANTITY_NAMES, 0)
            quantities.update(available=38 + n, committed=1, safety_stock=1, on_hand=40 + n)
            world.shop_levels[(loc.code, sku)] = ShopLevel(
                location=loc.code,
                sku=sku,
                quantities=quantities,
                quantity_updated_at=dict.fromkeys(SHOPIFY_QUANTITY_NAMES, T0 + dt.timedelta(minutes=20)),
                created_at=T0,
                updated_at=T0 + dt.timedelta(minutes=20),
            )
            legacy += 1
    for n in range(1, 4):
        world.shop_orders.append(
            ShopOrder(
                legacy_id=90_000 + n,
                name=f"#{1000 + n}",
                channel="web",
                created_at=T0 + dt.timedelta(minutes=30 * n),
                lines=(ShopOrderLine(legacy_id=95_000 + n, sku="SKU-0001", quantity=n, location="STORE-B"),),
            )
        )
    return world
