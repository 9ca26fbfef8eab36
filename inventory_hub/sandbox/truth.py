"""Ground truth: what really happened in the simulated world, the oracle for the hub's tracer."""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True, slots=True)
class TrueEvent:
    """A WMS event as it truly happened (including channel allocations, which ShipHero's
    inventory_changes history does not list)."""

    id: str  # stable across runs of the same scenario and seed, e.g. "wms-000123"
    kind: str  # receipt | cycle_count | adjustment | channel_allocation | pick | transfer
    location: str
    sku: str
    bin: str
    delta_on_hand: int
    delta_allocated: int
    available_before: int
    available_after: int
    at: dt.datetime
    shiphero_change_id: int | None  # the InventoryChange legacy id, when on-hand changed
    channel: str = ""
    # What it changes in the ERP's comparable (on hand in the ERP's boundary − allocated): what the
    # ERP, and through it the storefront, must learn. 0 for a pick (both drop together).
    downstream_delta: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class HopReflection:
    """When each downstream system first reflected one WMS event (None: not yet)."""

    event_id: str
    location: str
    sku: str
    at: dt.datetime
    erp_at: dt.datetime | None
    storefront_at: dt.datetime | None
    # Did the event move the available the storefront shows for the key? True when the ERP state
    # that first carried it called for another number than the storefront then showed, and the
    # storefront pull that carried it did change the number. None: no pull has carried it, or it
    # is the storefront's own order (it had that at placement). A pull that leaves the shown number
    # where it was is invisible outside the storefront: see export.hop_lags.
    storefront_moved: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TrueOversell:
    """An order line the storefront accepted while the WMS could not fill it."""

    order_id: int  # Shopify legacy order id
    line_id: int
    location: str
    sku: str
    quantity: int
    at: dt.datetime
    shown: int  # storefront available at order time
    truth: int  # WMS available at order time
    originating_event_id: str | None
    hop_lost: str  # wms_erp | erp_storefront | "" (both had seen it)
    root_cause: str  # DESIGN.md §5 classes


@dataclasses.dataclass
class GroundTruth:
    """Everything the simulation knows that the systems' APIs do not say."""

    events: list[TrueEvent] = dataclasses.field(default_factory=list)
    oversells: list[TrueOversell] = dataclasses.field(default_factory=list)
    reflections: dict[str, HopReflection] = dataclasses.field(default_factory=dict)
    cascade_events: list[dict[str, object]] = dataclasses.field(default_factory=list)
