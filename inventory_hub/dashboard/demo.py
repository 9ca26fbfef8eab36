"""The demo retailer: the hub configured to watch a sandbox scenario, and a backfill through the
real adapters.

Only the demo (and the end-to-end tests) know both sides: the sandbox world's ids are used to
create the locations, connectors, mappings, pools, boundaries and rules an admin would
otherwise enter by hand.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Callable

import httpx
from django.contrib.auth import get_user_model
from django.db import transaction

from inventory_hub.connectors.models import Connector, LocationMapping, PollRun, Product
from inventory_hub.inventory import services as inventory_services
from inventory_hub.inventory.models import AllocationRule, Channel, Location, Pool, PoolBoundary, PoolBoundaryEntry
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations import services as observation_services
from inventory_hub.reconciliation import exposure, hop_lags
from inventory_hub.reconciliation import services as reconciliation_services
from inventory_hub.sandbox.erpnext import ErpNextApi
from inventory_hub.sandbox.scenario import Scenario
from inventory_hub.sandbox.shiphero import ShipHeroApi
from inventory_hub.sandbox.shopify import ShopifyApi
from inventory_hub.sandbox.simulation import Simulation
from inventory_hub.sandbox.world import World
from inventory_hub.sandbox.wsgi import SandboxApp, sandbox_transport
from inventory_hub.tracing import services as tracing_services

SYSTEMS = {"wms": "shiphero", "erp": "erpnext", "storefront": "shopify"}


def shiphero_warehouse_id(shiphero_id: int) -> str:
    return base64.b64encode(f"Warehouse:{shiphero_id}".encode()).decode()


def external_ids(world: World, product: str) -> dict[str, str]:
    """Hub location code → that product's own location id in the sandbox world."""
    ids = {
        "shopify": lambda loc: f"gid://shopify/Location/{loc.shopify_id}",
        "shiphero": lambda loc: shiphero_warehouse_id(loc.shiphero_id),
        "erpnext": lambda loc: loc.erp_warehouse,
    }[product]
    return {code: ids(loc) for code, loc in world.locations.items()}


def _credentials(world: World, product: str) -> dict[str, str]:
    c = world.credentials
    return {
        "shopify": {"access_token": c.shopify_access_token, "webhook_secret": c.webhook_secret},
        "shiphero": {"access_token": c.shiphero_access_token, "webhook_secret": c.webhook_secret},
        "erpnext": {"api_key": c.erpnext_api_key, "api_secret": c.erpnext_api_secret},
    }[product]


@transaction.atomic
def demo_retailer_create(
    *, scenario: Scenario, world: World, base_url: str, poll_interval_seconds: int = 60
) -> dict[str, Connector]:
    """Locations, channels, pools, rules, connectors, mappings and boundaries for a scenario (idempotent)."""
    author, _ = get_user_model().objects.get_or_create(username="demo-setup", defaults={"is_active": False})
    for spec in scenario.locations:
        Location.objects.update_or_create(
            code=spec.code, defaults={"name": spec.name, "kind": spec.kind, "time_zone": spec.time_zone}
        )
    connectors: dict[str, Connector] = {}
    for role, product in SYSTEMS.items():
        connector, _ = Connector.objects.update_or_create(
            name=f"Sandbox {Product(product).label}",
            defaults={
                "role": role,
                "adapter": product,
                "base_url": f"{base_url.rstrip('/')}/{product}",
                "credentials": _credentials(world, product),
                "options": {"time_zone": world.erp_time_zone} if product == "erpnext" else {},
                "poll_interval_seconds": poll_interval_seconds,
                "enabled": True,
                "disabled_reason": "",
            },
        )
        connectors[role] = connector
        for code, external_id in external_ids(world, product).items():
            LocationMapping.objects.update_or_create(
                connector=connector,
                external_id=external_id,
                defaults={"location": Location.objects.get(code=code), "external_name": world.locations[code].name},
            )
    for channel_spec in scenario.channels:
        channel, _ = Channel.objects.update_or_create(code=channel_spec.code, defaults={"name": channel_spec.name})
        pool, _ = Pool.objects.update_or_create(
            code=f"{channel_spec.code}-pool",
            defaults={"name": f"{channel_spec.name} pool", "scope": Pool.Scope.CHANNEL, "channel": channel},
        )
        pool.locations.set(Location.objects.filter(code__in=channel_spec.locations))
        if not AllocationRule.objects.filter(pool=pool, channel=channel).exists():
            inventory_services.allocation_rule_create(
                pool=pool,
                channel=channel,
                values=RuleValues(safety_stock=scenario.reserve_inventory, channel_share_percent=100),
                author=author,
                reason="Demo set-up: the retailer's intended safety stock",
                now=scenario.start,
            )
        _boundaries_create(pool=pool, connectors=connectors, world=world, codes=channel_spec.locations)
    return connectors


def _boundaries_create(*, pool: Pool, connectors: dict[str, Connector], world: World, codes: tuple[str, ...]) -> None:
    """Each system's boundary of the pool: the WMS excludes its non-sellable bins, the others take whole sites."""
    for role, connector in connectors.items():
        boundary, _ = PoolBoundary.objects.get_or_create(pool=pool, connector=connector)
        ids = external_ids(world, connector.adapter)
        for code in codes:
            PoolBoundaryEntry.objects.get_or_create(boundary=boundary, external_location_id=ids[code], bin="")
            if role == "wms":
                for bin_name in sorted(world.locations[code].non_sellable_bins):
                    PoolBoundaryEntry.objects.get_or_create(
                        boundary=boundary, external_location_id=ids[code], bin=bin_name, defaults={"included": False}
                    )


def demo_reset(*, connectors: dict[str, Connector]) -> None:
    """Forget what the demo connectors observed, so a new backfill tells one consistent week."""
    from inventory_hub.observations.models import InventoryEvent, InventoryPosition, Order, PositionChange

    ids = [c.pk for c in connectors.values()]
    with transaction.atomic():
        for model in (PositionChange, InventoryPosition, InventoryEvent, Order, PollRun):
            model.objects.filter(connector_id__in=ids).delete()
        Connector.objects.filter(pk__in=ids).update(cursors={}, next_poll_at=None)


class SimulatedClock:
    """A clock that moves only when someone sleeps: rate limits hold, but nobody waits."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.seconds += max(0.0, seconds)


def backfill_transport(world: World) -> tuple[httpx.BaseTransport, SimulatedClock]:
    """An in-process transport to the sandbox whose throttles run on a simulated clock."""
    clock = SimulatedClock()
    apis = {
        "shopify": ShopifyApi(world, clock=clock.now),
        "shiphero": ShipHeroApi(world, clock=clock.now),
        "erpnext": ErpNextApi(world),
    }
    return sandbox_transport(SandboxApp(world, apis=apis)), clock


def demo_backfill(
    *,
    simulation: Simulation,
    connectors: dict[str, Connector],
    transport: httpx.BaseTransport,
    clock: SimulatedClock,
    until: dt.datetime,
    step: dt.timedelta,
    progress: Callable[[dt.datetime], None] | None = None,
    reconcile_each_poll: bool = True,
) -> int:
    """Advance the simulation step by step, polling every connector through its real adapter."""
    polls = 0
    while simulation.world.now < until:
        simulation.advance_to(min(until, simulation.world.now + step))
        clock.sleep(step.total_seconds())  # the APIs' rate-limit buckets refill with simulated time
        for connector in connectors.values():
            run = observation_services.connector_poll(
                connector_id=connector.pk,
                trigger=PollRun.Trigger.BACKFILL,
                transport=transport,
                sleep=clock.sleep,  # honour throttling in simulated time, without waiting
                now=simulation.world.now,
            )
            polls += 1
            if reconcile_each_poll and run is not None and run.positions_changed:
                # As the live pipeline does: discrepancies open and close over the backfill, not
                # all at its end (the timeline and durations then mean something in the demo).
                reconciliation_services.reconciliation_after_poll(poll_run_id=run.pk, now=simulation.world.now)
        # The overview's exposure chart: one sample per location per step (only where it changed).
        exposure.exposure_record(now=simulation.world.now)
        if progress is not None:
            progress(simulation.world.now)
    # One sweep at the end (cheaper than one per poll): discrepancies as of the backfill's end.
    reconciliation_services.reconciliation_run(now=simulation.world.now)
    # Hop lags for the overview's p95 per hop (live polls measure them after each poll).
    hop_lags.hop_lags_measure(now=simulation.world.now)
    return polls


@dataclasses.dataclass
class SandboxBackfill:
    """A sandbox scenario configured in the hub and backfilled through the real adapters."""

    simulation: Simulation
    connectors: dict[str, Connector]
    transport: httpx.BaseTransport
    clock: SimulatedClock
    polls: int


def sandbox_backfill_run(
    *, scenario: Scenario, days: float, step: dt.timedelta, base_url: str = "http://sandbox"
) -> SandboxBackfill:
    """Configure the hub for `scenario`, then backfill `days` of it, polling every `step`."""
    simulation = Simulation(scenario)
    connectors = demo_retailer_create(scenario=scenario, world=simulation.world, base_url=base_url)
    demo_reset(connectors=connectors)
    transport, clock = backfill_transport(simulation.world)
    polls = demo_backfill(
        simulation=simulation,
        connectors=connectors,
        transport=transport,
        clock=clock,
        until=scenario.start + dt.timedelta(days=days),
        step=step,
    )
    # The backfill's orders, checked and traced as the live pipeline checks new ones.
    tracing_services.oversells_detect(now=simulation.world.now)
    tracing_services.cascade_loops_detect(now=simulation.world.now)
    return SandboxBackfill(simulation, connectors, transport, clock, polls)
