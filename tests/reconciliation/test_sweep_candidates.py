from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import transaction

from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.inventory.services import allocation_rule_create
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import classify, selectors, services, verdicts
from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.reconciliation.services import ReconciliationResult, reconciliation_run
from tests.factories import ConnectorFactory, LocationFactory, LocationMappingFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=2)
# Poll intervals 60 s (WMS, ERP) and 120 s (storefronts): lag budgets wms_erp 3 min, erp_storefront
# 6 min, wms_storefront 9 min (services.LAG_BUDGET_POLLS = 3).
BUDGETS = {
    classify.WMS_ERP: dt.timedelta(minutes=3),
    classify.ERP_STOREFRONT: dt.timedelta(minutes=6),
    classify.WMS_STOREFRONT: dt.timedelta(minutes=9),
}
MICROSECOND = dt.timedelta(microseconds=1)
# Ages on both sides of every class boundary of every hop, and values dated after `now`.
AGES = sorted(
    {dt.timedelta(0), dt.timedelta(minutes=-1), dt.timedelta(minutes=1)}
    | {
        budget * n + d
        for budget in BUDGETS.values()
        for n in (1, 4)
        for d in (-MICROSECOND, dt.timedelta(0), MICROSECOND)
    }
)
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
    "acknowledged_at",
    "acknowledgement_note",
)


@pytest.fixture
def retailer():
    """Four locations: two rules that can tie and a quarantine bin out of the WMS boundary; no rule;
    one rule with a pickup reservation and a channel share; the quarantine bin alone. Two WMSs, one
    ERP, two storefronts."""
    locations = [LocationFactory(code=f"SITE-{n}") for n in range(4)]
    connectors = {
        "wms": ConnectorFactory(role="wms", adapter="shiphero", poll_interval_seconds=60),
        "wms2": ConnectorFactory(role="wms", adapter="inventree", poll_interval_seconds=60),
        "erp": ConnectorFactory(role="erp", adapter="erpnext", poll_interval_seconds=60),
        "storefront": ConnectorFactory(role="storefront", adapter="shopify", poll_interval_seconds=120),
        "storefront2": ConnectorFactory(role="storefront", adapter="shopify", poll_interval_seconds=120),
    }
    for name, connector in connectors.items():
        for location in locations:
            LocationMappingFactory(connector=connector, external_id=f"{name}-{location.code}", location=location)
    author = UserFactory()
    for code, values, where in (
        ("safety", RuleValues(safety_stock=2), locations[:1]),
        ("half", RuleValues(channel_share_percent=50), locations[:1]),
        ("pickup", RuleValues(safety_stock=1, pickup_reservation=1, channel_share_percent=80), locations[2:3]),
    ):
        pool = PoolFactory(code=code)
        pool.locations.set(where)
        allocation_rule_create(
            pool=pool, channel=None, values=values, author=author, reason="test", now=T0 - dt.timedelta(days=1)
        )
    boundary = PoolBoundary.objects.create(pool=pool, connector=connectors["wms"])
    for location in (locations[0], locations[3]):
        PoolBoundaryEntry.objects.create(
            boundary=boundary, external_location_id=f"wms-{location.code}", bin="QUARANTINE", included=False
        )
    return locations, connectors


def _random_positions(retailer, rng: random.Random, *, skus: int, at: dt.datetime, two_storefronts: float) -> None:
    """Keys that mostly agree under each location's rules, with every kind of near miss mixed in."""
    locations, c = retailer
    InventoryPosition.objects.all().delete()
    rows = []

    def add(connector, location, sku, on_hand, allocated, available, bin_name="", changed_at=None):
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
                changed_at=changed_at or at - rng.choice(AGES),
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
            if rng.random() < 0.05:
                add(c["wms"], location, sku, 1, 0, 1, "A-1")
            if rng.random() < 0.1:
                add(c["wms2"], location, sku, 1, 0, 1, rng.choice(["", "A-1"]))  # a bin with no total: per key
            if rng.random() < 0.95:
                erp = wms + rng.choice([0, 0, 0, 0, quarantine, 1, -1])
                add(c["erp"], location, sku, erp + allocated, allocated, erp)
            shown = max(0, rng.choice([wms, wms, wms - 1, wms - 2, (wms - 2) // 2, wms // 2, wms + 1]))
            held = rng.choice([0, 0, 1, 2])
            changed_at = at - rng.choice(AGES)
            for name in ("storefront", "storefront2"):
                if rng.random() < (0.95 if name == "storefront" else two_storefronts):
                    if name == "storefront2" and rng.random() < 0.5:  # a second storefront that disagrees
                        shown, held = rng.choice([(shown, held + 1), (shown + 1, held), (shown, held)])
                        changed_at = rng.choice([changed_at, at - rng.choice(AGES)])
                    add(c[name], location, sku, shown + held + allocated, allocated, shown, changed_at=changed_at)
    InventoryPosition.objects.bulk_create(rows)


def _stir_discrepancies(retailer, rng: random.Random, *, now: dt.datetime) -> None:
    """Open discrepancies as other runs, people and older code may have left them: ages around every
    class boundary, stale classes and values, acknowledged, closed, and keys nothing reports any more."""
    locations, _ = retailer
    user = UserFactory()
    for discrepancy in Discrepancy.objects.filter(closed_at__isnull=True):
        roll = rng.random()
        if roll < 0.1:
            discrepancy.closed_at = now - dt.timedelta(minutes=1)
        if rng.random() < 0.5:
            discrepancy.opened_at = now - rng.choice(AGES)
            if discrepancy.closed_at is not None:
                discrepancy.closed_at = max(discrepancy.closed_at, discrepancy.opened_at)
        if rng.random() < 0.2:
            discrepancy.classification = rng.choice(
                [c for c, _ in Discrepancy._meta.get_field("classification").choices]
            )
        if rng.random() < 0.2:
            discrepancy.peak_gap = rng.choice([0, 1, 5])
        if rng.random() < 0.1:
            discrepancy.upstream_quantity += rng.choice([-1, 1])
        if rng.random() < 0.2:
            discrepancy.acknowledged_at = now - dt.timedelta(minutes=5)
            discrepancy.acknowledged_by = user
            discrepancy.acknowledgement_note = "Looking into it"
        discrepancy.save()
    for n in range(3):  # keys no system reports any more
        Discrepancy.objects.create(
            location=locations[n],
            sku=f"GONE-{n}",
            hop=classify.HOPS[n],
            classification="stale",
            opened_at=now - dt.timedelta(hours=1),
            upstream_quantity=1,
            downstream_quantity=2,
            peak_gap=1,
        )


def _state() -> list[tuple[object, ...]]:
    return sorted(
        Discrepancy.objects.values_list(*DISCREPANCY_FIELDS), key=lambda row: tuple(str(value) for value in row)
    )


def _all_keys() -> list[tuple[int, str]]:
    keys = set(InventoryPosition.objects.values_list("location_id", "sku"))
    return sorted(keys | set(Discrepancy.objects.filter(closed_at__isnull=True).values_list("location_id", "sku")))


def _run_rolled_back(*, in_sql: bool, **kwargs) -> tuple[ReconciliationResult, list[tuple[object, ...]]]:
    with transaction.atomic():
        result = services._reconciliation_run(in_sql=in_sql, lag_budget=None, **kwargs)
        state = _state()
        transaction.set_rollback(True)
    return result, state


def _prepare(retailer, seed: int, *, two_storefronts: float = 0.2) -> random.Random:
    rng = random.Random(seed)  # noqa: S311 (seeded test data, not security)
    _random_positions(retailer, rng, skus=40, at=T0, two_storefronts=two_storefronts)
    reconciliation_run(now=T0)  # discrepancies open, some of which the next values close or change
    _random_positions(retailer, rng, skus=40, at=NOW - dt.timedelta(minutes=1), two_storefronts=two_storefronts)
    _stir_discrepancies(retailer, rng, now=NOW)
    return rng


@pytest.mark.parametrize("seed", range(8))
def test_sweep_decided_in_sql_matches_the_per_key_path_on_every_key(retailer, seed):
    _prepare(retailer, seed)

    swept, swept_state = _run_rolled_back(in_sql=True, keys=None, now=NOW)
    reference, reference_state = _run_rolled_back(in_sql=False, keys=None, now=NOW)

    assert swept == reference
    assert swept_state == reference_state
    # The data exercised every write.
    assert swept.opened > 0
    assert swept.closed > 0
    assert swept.updated > 0
    assert swept.rule_drifts


@pytest.mark.parametrize("seed", range(4))
def test_incremental_run_decided_in_sql_matches_the_per_key_path(retailer, seed):
    rng = _prepare(retailer, seed)
    keys = rng.sample(_all_keys(), 60) + [(retailer[0][0].pk, "NEVER-SEEN")]

    incremental, incremental_state = _run_rolled_back(in_sql=True, keys=keys, now=NOW)
    reference, reference_state = _run_rolled_back(in_sql=False, keys=keys, now=NOW)

    assert incremental == reference
    assert incremental_state == reference_state
    assert incremental.opened + incremental.closed + incremental.updated > 0


def test_run_at_an_earlier_now_matches_the_per_key_path(retailer):
    # Values and discrepancies dated after `now`: new ones open at `now`, closes never precede opening.
    _prepare(retailer, 11)
    earlier = T0 + dt.timedelta(minutes=30)

    swept, swept_state = _run_rolled_back(in_sql=True, keys=None, now=earlier)
    reference, reference_state = _run_rolled_back(in_sql=False, keys=None, now=earlier)

    assert swept == reference
    assert swept_state == reference_state


def _verdicts(keys=None, now=NOW) -> verdicts.KeyVerdicts:
    connectors = selectors.reconciliation_connector_list()
    return verdicts.key_verdict_list(
        keys=keys,
        connectors=connectors,
        excluded_bins=selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors["wms"]]),
        rules=selectors.rules_in_force_by_location(at=now),
        budgets=services.hop_lag_budgets(connectors=connectors),
        now=now,
    )


def test_steady_sweep_writes_nothing_and_reads_no_key_into_python(retailer):
    rng = random.Random(3)  # noqa: S311 (seeded test data, not security)
    _random_positions(retailer, rng, skus=40, at=T0, two_storefronts=0)
    wms = retailer[1]["wms"]
    InventoryPosition.objects.filter(connector=retailer[1]["wms2"]).delete()
    totals = set(InventoryPosition.objects.filter(connector=wms, bin="").values_list("location_id", "sku"))
    for pk, location_id, sku in InventoryPosition.objects.filter(connector=wms).values_list("pk", "location_id", "sku"):
        if (location_id, sku) not in totals:  # every WMS bin has its location total
            InventoryPosition.objects.filter(pk=pk).delete()
    first = reconciliation_run(now=NOW)

    found = _verdicts()

    assert first.opened > 0
    assert found.writes == []
    assert found.per_key == []
    assert found.keys == first.keys
    assert found.open_by_class == first.open_by_class


def test_leaves_keys_sql_cannot_decide_exactly_to_the_per_key_path(retailer):
    locations, c = retailer
    at = NOW - dt.timedelta(hours=1)

    def position(connector, sku, available, bin_name="", on_hand=None, location=locations[1]):
        InventoryPosition.objects.create(
            connector=connector,
            location=location,
            sku=sku,
            bin=bin_name,
            on_hand=available if on_hand is None else on_hand,
            allocated=0,
            available=available,
            observed_at=at,
            changed_at=at,
        )

    for location, sku in ((locations[1], "AGREE"), (locations[1], "SHOWN"), (locations[1], "HELD")):
        position(c["wms"], sku, 5, location=location)
        position(c["erp"], sku, 5, location=location)
    position(c["storefront"], "AGREE", 5)
    position(c["storefront2"], "AGREE", 5)
    position(c["storefront"], "SHOWN", 5)
    position(c["storefront2"], "SHOWN", 4)  # which one speaks for the key is the per-key path's choice
    position(c["storefront"], "HELD", 5, on_hand=5)
    position(c["storefront2"], "HELD", 5, on_hand=6)  # same number, different safety stock
    for location in (locations[1], locations[3]):  # a WMS reporting a bin but no location total
        position(c["wms"], "BINS", 5, location=location)
        position(c["storefront"], "BINS", 5, location=location)
        position(c["wms2"], "BINS", 2, bin_name="A-1", location=location)

    found = _verdicts()

    # Where no bin is excluded (SITE-1) such a bin changes nothing; where the WMS boundary excludes
    # bins (SITE-3) it could count as excluded on hand.
    assert sorted(found.per_key) == [(locations[1].pk, "HELD"), (locations[1].pk, "SHOWN"), (locations[3].pk, "BINS")]
    assert found.keys == 2
    assert found.writes == []
