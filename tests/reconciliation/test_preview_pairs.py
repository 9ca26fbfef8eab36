"""The rule preview from (WMS comparable, storefront shown) pairs: exact, and fresh after every poll."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory_hub.connectors import registry
from inventory_hub.connectors.base import ExternalLocation
from inventory_hub.connectors.models import LocationMapping
from inventory_hub.inventory import services as inventory_services
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations import services as observation_services
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.comparable import key_comparables
from inventory_hub.reconciliation.preview import (
    PairKeys,
    pair_effects,
    phantom_after,
    rule_change_preview,
    rule_previews_warm,
)
from tests.factories import ChannelFactory, ConnectorFactory, LocationFactory, PoolFactory, UserFactory, position_create
from tests.observations import fakes
from tests.observations.fakes import position

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
RULE = RuleValues(safety_stock=2, channel_share_percent=100)


_position = functools.partial(position_create, at=T0)


def _rule(pool, values=RULE, channel="Web"):
    return inventory_services.allocation_rule_create(
        pool=pool, channel=ChannelFactory(name=channel), values=values, author=UserFactory(), reason="x", now=T0
    )


def _pair(location_id, wms, shown, keys, ordinals):
    return PairKeys(location_id, wms, shown, keys, tuple(ordinals), tuple(f"SKU-{o:03d}" for o in ordinals))


def test_pairs_give_totals_as_the_sum_of_their_keys():
    pairs = [_pair(1, 10, 8, 30, [1, 2]), _pair(1, 3, 6, 1, [3]), _pair(2, 5, None, 4, [1])]
    before, after = (RULE,), (dataclasses.replace(RULE, safety_stock=0),)

    totals, _ = pair_effects(pairs=pairs, sets={1: (before, after), 2: (before, after)}, codes={}, top=10)

    # WMS 10 shows 8: ATP 8 → 10 and phantom 0 → 0; WMS 3 shows 6: ATP 1 → 3, phantom 3 → 5.
    assert dataclasses.astuple(totals[1]) == (31, 31, 30 * 8 + 1, 30 * 10 + 3, 3, 5)
    # No storefront position: no phantom units either way.
    assert dataclasses.astuple(totals[2]) == (4, 4, 4 * 3, 4 * 5, 0, 0)


def test_top_keys_of_equal_effect_merge_pairs_in_sku_order_and_skip_lesser_effects():
    # Three pairs with the same effect at location 1 (WMS 10, 11 and 12 all show 0: ATP +2,
    # phantom unchanged) whose keys interleave in SKU order, one at location 2, and a pair whose
    # phantom units move (first, whatever its SKU).
    pairs = [
        _pair(1, 10, 0, 25, [4, 9, 12]),
        _pair(1, 11, 0, 2, [2, 7]),
        _pair(1, 12, 0, 1, [5]),
        _pair(2, 10, 0, 1, [1]),
        _pair(1, 3, 6, 1, [99]),
    ]
    before, after = (RULE,), (dataclasses.replace(RULE, safety_stock=0),)

    _, top = pair_effects(pairs=pairs, sets={1: (before, after), 2: (before, after)}, codes={1: "FC-1"}, top=5)

    assert [(key.location_code, key.sku) for key in top] == [
        ("FC-1", "SKU-099"),
        ("FC-1", "SKU-002"),
        ("FC-1", "SKU-004"),
        ("FC-1", "SKU-005"),
        ("FC-1", "SKU-007"),
    ]
    assert (top[0].wms, top[0].shown, top[0].atp_before, top[0].atp_after) == (3, 6, 1, 3)
    assert (top[0].phantom_before, top[0].phantom_after) == (3, 5)
    assert (top[1].wms, top[1].atp_before, top[1].atp_after, top[1].phantom_after) == (11, 9, 11, 0)


def test_a_top_key_without_a_storefront_position_has_no_phantom_units():
    pairs = [_pair(2, 5, None, 4, [1])]

    _, top = pair_effects(
        pairs=pairs, sets={2: ((RULE,), (dataclasses.replace(RULE, safety_stock=0),))}, codes={2: "L2"}, top=1
    )

    assert [dataclasses.astuple(key) for key in top] == [("L2", "SKU-001", 5, None, 3, 5, None, None)]


def test_no_top_keys_when_none_is_asked_for():
    pairs = [_pair(1, 10, 0, 3, [1, 2, 3])]

    _, top = pair_effects(
        pairs=pairs, sets={1: ((RULE,), (dataclasses.replace(RULE, safety_stock=0),))}, codes={}, top=0
    )

    assert top == []


@pytest.mark.django_db
def test_preview_equals_reconciliations_own_functions_on_mixed_data():
    # Given: three locations, a second more generous rule at one of them, excluded quarantine
    # bins, keys without a storefront, two storefronts, and many keys sharing few pairs.
    rng = random.Random(6)  # noqa: S311 (test data)
    locations = [LocationFactory(code=f"L{n}") for n in range(3)]
    wms = ConnectorFactory(name="WMS", role="wms")
    shops = [ConnectorFactory(name=f"Shop {n}", role="storefront", adapter="shopify") for n in range(2)]
    ConnectorFactory(name="ERP", role="erp", adapter="erpnext")
    for location in locations:
        LocationMapping.objects.create(connector=wms, external_id=f"W-{location.code}", location=location)
    pool, other_pool = PoolFactory(name="Web"), PoolFactory(name="Stores")
    pool.locations.set(locations)
    other_pool.locations.set(locations[:1])
    boundary = pool.boundaries.create(connector=wms)
    boundary.entries.create(external_location_id="W-L1", bin="QUARANTINE", included=False)
    rule = _rule(pool)
    _rule(other_pool, RuleValues(safety_stock=4, channel_share_percent=90), channel="Stores")
    for location in locations:
        for n in range(60):
            sku = f"SKU-{rng.randrange(1000):04d}"
            if InventoryPosition.objects.filter(location=location, sku=sku).exists():
                continue
            _position(wms, location, sku, on_hand=rng.randrange(12), allocated=rng.randrange(2))
            if n % 4 == 0:
                _position(wms, location, sku, on_hand=rng.randrange(3), available=0, bin="QUARANTINE")
            for shop in shops[: rng.randrange(3)]:
                _position(shop, location, sku, on_hand=rng.randrange(14))
    new = RuleValues(safety_stock=0, channel_share_percent=80, pickup_reservation=1)

    # When
    preview = rule_change_preview(rule=rule, values=new, top=7)

    # Then: key by key, as reconciliation computes them
    connectors = reconciliation_selectors.reconciliation_connector_list()
    before = reconciliation_selectors.rules_in_force_by_location(at=dt.datetime.now(tz=dt.UTC))
    after = {
        location_id: tuple(new if values == RULE else values for values in rules)
        for location_id, rules in before.items()
    }
    observations = reconciliation_selectors.key_observation_map(
        scope={location.pk: None for location in locations},
        connectors=connectors,
        excluded_bins=reconciliation_selectors.wms_excluded_bin_map(connector_ids=[wms.pk]),
        rules=before,
    )
    totals = [0] * 6
    moved = []
    for (location_id, sku), observation in observations.items():
        if not observation.wms:
            continue
        was = key_comparables(observation)
        will = key_comparables(dataclasses.replace(observation, rules=after[location_id]))
        shown = max((p.available for p in observation.storefronts), default=None)
        atp = (was.expected_atp_from_wms, will.expected_atp_from_wms)
        phantom = (0, 0)
        if shown is not None:
            phantom = (
                max(0, shown - was.wms),
                phantom_after(shown=shown, wms=was.wms, atp_before=atp[0], atp_after=atp[1]),
            )
        for index, value in enumerate((1, atp[0] != atp[1], *atp, *phantom)):
            totals[index] += value
        if atp[0] != atp[1] or phantom[0] != phantom[1]:
            row = (was.wms, shown, *atp, *(phantom if shown is not None else (None, None)))
            moved.append((-abs(phantom[1] - phantom[0]), -abs(atp[1] - atp[0]), location_id, sku, row))
    codes = {location.pk: location.code for location in locations}
    assert dataclasses.astuple(preview.total) == tuple(totals)
    assert [dataclasses.astuple(key) for key in preview.top] == [
        (codes[location_id], sku, *row) for *_, location_id, sku, row in sorted(moved)[:7]
    ]
    assert preview.total.keys > 100  # enough keys for pairs to repeat
    assert preview.locations[0].other_rules == 1


@pytest.fixture
def polled_shop(monkeypatch):
    """A web pool at FC-1 whose WMS is polled from a fake system; the storefront shows 8 of SKU-A."""
    monkeypatch.setitem(registry.ADAPTERS, "csv", "tests.observations.fakes.FakeAdapter")
    system = fakes.FakeSystem(
        locations=[ExternalLocation("wh-1", "Warehouse 1")],
        positions=[position("wh-1", "SKU-A", 10), position("wh-1", "SKU-B", 4)],
    )
    monkeypatch.setattr(fakes, "SYSTEM", system)
    fc = LocationFactory(code="FC-1")
    wms = ConnectorFactory(adapter="csv", role="wms")
    LocationMapping.objects.create(connector=wms, external_id="wh-1", location=fc)
    storefront = ConnectorFactory(name="Shop", role="storefront", adapter="shopify")
    _position(storefront, fc, "SKU-A", on_hand=8)
    pool = PoolFactory(name="Web pool")
    pool.locations.set([fc])
    observation_services.connector_poll(connector_id=wms.pk)
    return {"system": system, "wms": wms, "rule": _rule(pool), "pool": pool}


def _pair_queries(queries):
    return [q["sql"] for q in queries.captured_queries if "ROW_NUMBER()" in q["sql"]]


@pytest.mark.django_db
def test_a_poll_that_stores_positions_is_in_the_next_preview(polled_shop):
    values = dataclasses.replace(RULE, safety_stock=0)
    first = rule_change_preview(rule=polled_shop["rule"], values=values)
    polled_shop["system"].positions[0] = position("wh-1", "SKU-A", 3)

    observation_services.connector_poll(connector_id=polled_shop["wms"].pk)
    then = rule_change_preview(rule=polled_shop["rule"], values=values)

    # SKU-A: WMS 10 → 3 under a storefront showing 8: ATP 8 → 10 became 1 → 3, phantom 0 → 5 → 7.
    assert (first.total.atp_before, first.total.atp_after, first.total.phantom_before) == (8 + 2, 10 + 4, 0)
    assert (then.total.atp_before, then.total.atp_after) == (1 + 2, 3 + 4)
    assert (then.total.phantom_before, then.total.phantom_after) == (5, 7)
    assert [(key.sku, key.wms) for key in then.top] == [("SKU-A", 3), ("SKU-B", 4)]


@pytest.mark.django_db
def test_previews_between_polls_read_the_positions_once(polled_shop):
    rule = polled_shop["rule"]
    with CaptureQueriesContext(connection) as cold:
        first = rule_change_preview(rule=rule, values=dataclasses.replace(RULE, safety_stock=0))

    with CaptureQueriesContext(connection) as warm:
        second = rule_change_preview(rule=rule, values=dataclasses.replace(RULE, safety_stock=1))

    assert len(_pair_queries(cold)) == 1
    assert _pair_queries(warm) == []
    assert (first.total.atp_after, second.total.atp_after) == (10 + 4, 9 + 3)


@pytest.mark.django_db
def test_a_bin_leaving_the_pool_boundary_is_in_the_next_preview(polled_shop):
    polled_shop["system"].positions[0] = position("wh-1", "SKU-A", 14)
    polled_shop["system"].positions.append(position("wh-1", "SKU-A", 4, bin="QUARANTINE"))
    observation_services.connector_poll(connector_id=polled_shop["wms"].pk)
    values = dataclasses.replace(RULE, safety_stock=0)
    first = rule_change_preview(rule=polled_shop["rule"], values=values)

    boundary = polled_shop["pool"].boundaries.create(connector=polled_shop["wms"])
    boundary.entries.create(external_location_id="wh-1", bin="QUARANTINE", included=False)
    then = rule_change_preview(rule=polled_shop["rule"], values=values)

    # The location total (14 on hand) counts quarantine until the boundary excludes it.
    assert (first.total.atp_before, then.total.atp_before) == (12 + 2, 8 + 2)


@pytest.mark.django_db
def test_a_poll_that_changed_nothing_keeps_the_pairs(polled_shop):
    rule = polled_shop["rule"]
    rule_change_preview(rule=rule, values=RULE)

    observation_services.connector_poll(connector_id=polled_shop["wms"].pk)  # the same positions again
    with CaptureQueriesContext(connection) as after:
        rule_change_preview(rule=rule, values=RULE)

    assert _pair_queries(after) == []


@pytest.mark.django_db
def test_after_a_poll_the_worker_reads_the_pairs_of_a_rule_being_edited_not_the_person_typing(polled_shop):
    rule = polled_shop["rule"]
    values = dataclasses.replace(RULE, safety_stock=0)
    rule_change_preview(rule=rule, values=values)  # the ops lead opened the editor
    polled_shop["system"].positions[0] = position("wh-1", "SKU-A", 3)
    observation_services.connector_poll(connector_id=polled_shop["wms"].pk)

    assert rule_previews_warm() == 1  # the worker, after the poll's reconciliation
    with CaptureQueriesContext(connection) as typing:
        then = rule_change_preview(rule=rule, values=values)

    assert _pair_queries(typing) == []
    assert (then.total.atp_before, then.total.atp_after) == (1 + 2, 3 + 4)  # the new positions
    assert rule_previews_warm() == 0  # nothing stale, nothing read


@pytest.mark.django_db
def test_nobody_editing_means_nothing_to_warm(polled_shop):
    assert rule_previews_warm() == 0
