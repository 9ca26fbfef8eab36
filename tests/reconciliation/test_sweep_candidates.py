from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import transaction

from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.inventory.services import allocation_rule_create
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import selectors
from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.reconciliation.services import ReconciliationResult, reconciliation_run
from tests.factories import ConnectorFactory, LocationFactory, LocationMappingFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
DISCREPANCY_FIELDS = (
    "location_id",
    "sku",
    "hop",
    "classification",
    "opened_at",
    "closed_at",
    "upstream_quantity",
    "downstream_quantity",
    "peak_gap",
)


@pytest.fixture
def retailer():
    """Three locations: two rules that can tie and a quarantine bin out of the WMS boundary; no rule;
    one rule with a pickup reservation and a channel share. Two WMSs, one ERP, two storefronts."""
    locations = [LocationFactory(code=f"SITE-{n}") for n in range(3)]
    connectors = {
        "wms": ConnectorFactory(role="wms", adapter="shiphero"),
        "wms2": ConnectorFactory(role="wms", adapter="inventree"),
        "erp": ConnectorFactory(role="erp", adapter="erpnext"),
        "storefront": ConnectorFactory(role="storefront", adapter="shopify"),
        "storefront2": ConnectorFactory(role="storefront", adapter="shopify"),
    }
    for name, connector in connectors.items():
        for location in locations:
            LocationMappingFactory(connector=connector, external_id=f"{name}-{location.code}", location=location)
    author = UserFactory()
    for code, values, where in (
        ("safety", RuleValues(safety_stock=2), locations[:1]),
        ("half", RuleValues(channel_share_percent=50), locations[:1]),
        ("pickup", RuleValues(safety_stock=1, pickup_reservation=1, channel_share_percent=80), locations[2:]),
    ):
        pool = PoolFactory(code=code)
        pool.locations.set(where)
        allocation_rule_create(
            pool=pool, channel=None, values=values, author=author, reason="test", now=T0 - dt.timedelta(days=1)
        )
    boundary = PoolBoundary.objects.create(pool=pool, connector=connectors["wms"])
    PoolBoundaryEntry.objects.create(
        boundary=boundary, external_location_id=f"wms-{locations[0].code}", bin="QUARANTINE", included=False
    )
    return locations, connectors


def _random_positions(retailer, rng: random.Random, *, skus: int, at: dt.datetime) -> None:
    """Keys that mostly agree under each location's rules, with every kind of near miss mixed in."""
    locations, c = retailer
    InventoryPosition.objects.all().delete()
    rows = []

    def add(connector, location, sku, on_hand, allocated, available, bin_name=""):
        rows.append(
            InventoryPosition(
                connector=connector,
                location=location,
                sku=sku,
                bin=bin_name,
                on_hand=on_hand,
                allocated=allocated,
                available=available,
                observed_at=at,
                changed_at=at - dt.timedelta(minutes=rng.choice([1, 30, 300])),
            )
        )

    for location in locations:
        for n in range(skus):
            sku = f"SKU-{n}"
            wms = rng.choice([0, 1, 2, 3, 4, 6, 10])
            allocated = rng.choice([0, 1])
            quarantine = rng.choice([0, 0, 0, 2])
            if rng.random() < 0.9:
                add(c["wms"], location, sku, wms + allocated + quarantine, allocated, wms)
            if quarantine or rng.random() < 0.1:
                add(c["wms"], location, sku, quarantine, 0, 0, "QUARANTINE")
            if rng.random() < 0.1:
                add(c["wms2"], location, sku, 1, 0, 1, rng.choice(["", "A-1"]))
            if rng.random() < 0.95:
                erp = wms + rng.choice([0, 0, 0, 0, quarantine, 1, -1])
                add(c["erp"], location, sku, erp + allocated, allocated, erp)
            for name in ("storefront", "storefront2"):
                if rng.random() < (0.95 if name == "storefront" else 0.2):
                    shown = max(0, rng.choice([wms, wms - 1, wms - 2, (wms - 2) // 2, wms // 2]))
                    held = rng.choice([0, 0, 1, 2])
                    add(c[name], location, sku, shown + held + allocated, allocated, shown)
    InventoryPosition.objects.bulk_create(rows)


def _state() -> list[tuple[object, ...]]:
    return sorted(
        Discrepancy.objects.values_list(*DISCREPANCY_FIELDS), key=lambda row: tuple(str(value) for value in row)
    )


def _all_keys() -> list[tuple[int, str]]:
    keys = set(InventoryPosition.objects.values_list("location_id", "sku"))
    return sorted(keys | set(Discrepancy.objects.filter(closed_at__isnull=True).values_list("location_id", "sku")))


def _run_rolled_back(**kwargs) -> tuple[ReconciliationResult, list[tuple[object, ...]]]:
    with transaction.atomic():
        result = reconciliation_run(**kwargs)
        state = _state()
        transaction.set_rollback(True)
    return result, state


@pytest.mark.parametrize("seed", range(6))
def test_sweep_skipping_agreeing_keys_matches_reconciling_every_key(retailer, seed):
    rng = random.Random(seed)  # noqa: S311 (seeded test data, not security)
    _random_positions(retailer, rng, skus=60, at=T0)
    reconciliation_run(now=T0)  # discrepancies open, some of which the next values close or change
    _random_positions(retailer, rng, skus=60, at=T0 + dt.timedelta(hours=1))
    now = T0 + dt.timedelta(hours=2)

    swept, swept_state = _run_rolled_back(now=now)
    every_key, every_key_state = _run_rolled_back(keys=_all_keys(), now=now)

    assert swept == every_key
    assert swept_state == every_key_state
    assert swept.opened + swept.closed + swept.updated > 0  # the data exercised the writing paths


def test_sweep_reconciles_only_the_keys_that_can_need_it(retailer):
    locations, c = retailer
    rng = random.Random(1)  # noqa: S311 (seeded test data, not security)
    _random_positions(retailer, rng, skus=60, at=T0)
    reconciliation_run(now=T0)

    candidates = selectors.sweep_candidate_list(
        location_id=locations[1].pk,
        connectors=selectors.reconciliation_connector_list(),
        excluded_bins=selectors.wms_excluded_bin_map(connector_ids=[c["wms"].pk, c["wms2"].pk]),
        rules=(),
    )

    keys = set(InventoryPosition.objects.filter(location=locations[1], bin="").values_list("sku", flat=True))
    assert candidates.agreeing > 0
    assert candidates.agreeing + len(candidates.skus) == len(keys)
    assert set(
        Discrepancy.objects.filter(location=locations[1], closed_at__isnull=True).values_list("sku", flat=True)
    ) <= set(candidates.skus)
